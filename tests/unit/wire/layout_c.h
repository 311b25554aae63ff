/* SPDX-License-Identifier: MIT */
/* The C view of wire.h, exported for the C++ layout test. */
#ifndef NTM_TEST_LAYOUT_C_H
#define NTM_TEST_LAYOUT_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ntm_c_layout {
	size_t hdr_size, ctl_hdr_size;
	size_t off_version, off_type, off_flags, off_key_epoch, off_instance, off_counter, off_id;
	size_t off_timestamp, off_txid, off_reserved;
	size_t hdr_align;
};
extern const struct ntm_c_layout ntm_c_layout;

struct ntm_c_fields {
	uint8_t version, type, flags, key_epoch;
	uint32_t instance;
	uint64_t counter;
	uint8_t id[16];
	uint64_t timestamp_ms;
	uint32_t txid;
};
int ntm_c_read_hdr(const uint8_t *buf, size_t len, struct ntm_c_fields *out);

#ifdef __cplusplus
}
#endif
#endif
