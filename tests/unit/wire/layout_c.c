/* SPDX-License-Identifier: MIT */
/* Compiled as C11 with -pedantic -Werror: wire.h must be valid C, and these
 * values are what a C program (or the kernel module) sees. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>

#include "ntm/wire.h"
#include "wire/layout_c.h"

const struct ntm_c_layout ntm_c_layout = {
	.hdr_size = sizeof(struct ntm_hdr),
	.ctl_hdr_size = sizeof(struct ntm_ctl_hdr),
	.off_version = offsetof(struct ntm_hdr, version),
	.off_type = offsetof(struct ntm_hdr, type),
	.off_flags = offsetof(struct ntm_hdr, flags),
	.off_key_epoch = offsetof(struct ntm_hdr, key_epoch),
	.off_instance = offsetof(struct ntm_hdr, instance),
	.off_counter = offsetof(struct ntm_hdr, counter),
	.off_id = offsetof(struct ntm_hdr, id),
	.off_timestamp = offsetof(struct ntm_ctl_hdr, timestamp_ms),
	.off_txid = offsetof(struct ntm_ctl_hdr, txid),
	.off_reserved = offsetof(struct ntm_ctl_hdr, reserved),
	.hdr_align = _Alignof(struct ntm_hdr),
};

/* Reads an encoded header the way C code does: memcpy into the struct,
 * then convert from network byte order. */
int ntm_c_read_hdr(const uint8_t *buf, size_t len, struct ntm_c_fields *out)
{
	struct ntm_ctl_hdr h;
	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	out->version = h.common.version;
	out->type = h.common.type;
	out->flags = h.common.flags;
	out->key_epoch = h.common.key_epoch;
	out->instance = be32toh(h.common.instance);
	out->counter = be64toh(h.common.counter);
	memcpy(out->id, h.common.id, sizeof(out->id));
	out->timestamp_ms = be64toh(h.timestamp_ms);
	out->txid = be32toh(h.txid);
	return 0;
}
