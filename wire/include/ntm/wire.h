/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * NTMobile wire format: the one definition of the fixed headers, shared by
 * user space (C and C++) and the Linux kernel module.
 *
 * Everything on the wire is in network byte order (big-endian).  Only
 * fixed-width types are used and every struct is naturally aligned, so no
 * packing attribute is needed and the layout is the same for every ABI.
 * Variable-length control bodies are not described here: only the C++ codec
 * (ntm/wire/messages.hpp) reads them; the kernel sees just struct ntm_hdr.
 *
 * docs/protocol.md is the prose specification of this file.
 */
#ifndef NTM_WIRE_H
#define NTM_WIRE_H

#include <linux/types.h> /* __u8, __be32, __be64: kernel and uapi alike */

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version carried in every message; anything else is rejected. */
#define NTM_VERSION 1

/* UDP ports (not IANA-assigned; configurable, these are the defaults). */
enum ntm_port {
	NTM_PORT_DC = 4510,    /* Direction Coordinator control port */
	NTM_PORT_RELAY = 4511, /* Relay Server: control and relayed paths */
	NTM_PORT_NODE = 4512,  /* node daemon: control and tunnels */
};

/*
 * Message types.  1..16 follow the paper's numbering where it is published
 * (8 Relay Response, 9 Tunnel Request, 10 Tunnel Response, 11 Capsulated
 * Packet); the rest are ours.  A type is valid only in the key domains
 * listed in docs/protocol.md; the decoder enforces that table.
 */
enum ntm_msg_type {
	NTM_T_REGISTRATION_REQUEST = 1,
	NTM_T_REGISTRATION_RESPONSE = 2,
	NTM_T_DIRECTION_REQUEST = 3,
	NTM_T_ROUTE_DIRECTION = 5,
	NTM_T_ROUTE_DIRECTION_ACK = 6,
	NTM_T_RELAY_DIRECTION = 7,
	NTM_T_RELAY_RESPONSE = 8,
	NTM_T_TUNNEL_REQUEST = 9,
	NTM_T_TUNNEL_RESPONSE = 10,
	NTM_T_CAPSULATED_PACKET = 11,
	NTM_T_UPDATE_REQUEST = 12,
	NTM_T_UPDATE_RESPONSE = 13,
	NTM_T_KEEPALIVE = 14,
	NTM_T_KEEPALIVE_ACK = 15,
	NTM_T_ERROR = 16,
	NTM_T_NODE_INFO_REQUEST = 17,  /* DC -> DC */
	NTM_T_NODE_INFO_RESPONSE = 18, /* DC -> DC */
	NTM_T_ROUTE_FORWARD = 19,      /* DC_MN -> DC_CN: Route Direction for CN */
	NTM_T_ROUTE_FORWARD_ACK = 20,  /* DC_CN -> DC_MN */
	NTM_T_PATH_MOVED = 21,         /* DC_CN -> DC_MN: CN moved or asks for a re-direction */
	NTM_T_PATH_MOVED_ACK = 22,     /* DC_MN -> DC_CN */
	NTM_T_PATH_RELEASE = 23,       /* node -> DC: an end let an idle path go */
	NTM_T_PATH_RELEASE_ACK = 24,   /* DC -> node */
	NTM_T_PEER_HELLO = 25,         /* DC <-> DC: a certificate, in clear (peer_hello.hpp) */
	NTM_T_MAX = 25,
};

/*
 * Key domains: which long-term or path key seals a message.  The header's
 * id field names the key inside the domain.
 */
enum ntm_key_domain {
	NTM_DOMAIN_NODE_DC = 0,    /* K_node / K_rs; id = node or relay ID */
	NTM_DOMAIN_PATH = 1,       /* K_path between the two ends; id = path ID */
	NTM_DOMAIN_RELAY_PATH = 2, /* K_rp, ends <-> RS; id = path ID */
	NTM_DOMAIN_DC_PEER = 3,    /* DC-to-DC key; id = sending DC's ID */
};

/*
 * Sender roles, per domain.  Every (domain, role) pair derives its own
 * AEAD key, so two parties never encrypt under the same key and nonce
 * space (see docs/protocol.md, "Key hierarchy").
 */
enum ntm_role {
	NTM_ROLE_NODE = 0,          /* NODE_DC: node or relay -> DC */
	NTM_ROLE_DC = 1,            /* NODE_DC: DC -> node or relay */
	NTM_ROLE_INITIATOR = 0,     /* PATH, RELAY_PATH: MN side sends */
	NTM_ROLE_RESPONDER = 1,     /* PATH, RELAY_PATH: CN side sends */
	NTM_ROLE_RS_TO_INITIATOR = 2, /* RELAY_PATH: RS -> MN side */
	NTM_ROLE_RS_TO_RESPONDER = 3, /* RELAY_PATH: RS -> CN side */
	NTM_ROLE_PEER_DC = 0,       /* DC_PEER: the only role */
};

/* Header flags byte: domain in bits 0-1, role in bits 2-3, rest zero. */
#define NTM_FLAG_DOMAIN_MASK 0x03u
#define NTM_FLAG_ROLE_SHIFT 2
#define NTM_FLAG_ROLE_MASK 0x0cu
#define NTM_FLAG_RESERVED_MASK 0xf0u

/*
 * struct ntm_hdr: the first 32 bytes of every NTMobile message, and the
 * whole cleartext part of a Capsulated Packet.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    version    |     type      |     flags     |   key_epoch   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       instance (sender)                       |  <- nonce
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+     bytes
 * |                        counter (64 bits)                      |     4..15
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            id (128 bits): node, relay, path or DC ID           |
 * |                                                               |
 * |                                                               |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The AES-256-GCM nonce is bytes 4..15 verbatim (instance || counter), so
 * the nonce is authenticated with the rest of the header as AAD.
 */
struct ntm_hdr {
	__u8 version;
	__u8 type;
	__u8 flags;
	__u8 key_epoch;
	__be32 instance;
	__be64 counter;
	__u8 id[16];
};

/*
 * struct ntm_ctl_hdr: control messages add 16 bytes after ntm_hdr.  The
 * whole 48 bytes are the AAD; the body follows encrypted, then the tag.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 struct ntm_hdr (32 bytes)                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               timestamp_ms (64 bits, Unix time)               |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   txid (transaction ID)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     reserved (zero)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
struct ntm_ctl_hdr {
	struct ntm_hdr common;
	__be64 timestamp_ms;
	__be32 txid;
	__be32 reserved;
};

/*
 * A Capsulated Packet on the wire:
 *   struct ntm_hdr (type NTM_T_CAPSULATED_PACKET, domain PATH)
 *   ciphertext of the original IPv4 datagram (0 bytes: a keepalive)
 *   16-byte GCM tag
 */
enum ntm_limits {
	NTM_HDR_LEN = 32,
	NTM_CTL_HDR_LEN = 48,
	NTM_TAG_LEN = 16,
	NTM_NONCE_LEN = 12,
	NTM_NONCE_OFFSET = 4,
	NTM_KEY_LEN = 32,
	NTM_ID_LEN = 16,
	NTM_CAPSULE_OVERHEAD = NTM_HDR_LEN + NTM_TAG_LEN, /* 48 */
	/* Largest inner datagram: leaves room for outer IPv6 (40) + UDP (8). */
	NTM_MAX_INNER = 1500 - 40 - 8 - NTM_CAPSULE_OVERHEAD, /* 1404 */
	/* Control datagrams fit the IPv6 minimum MTU: 1280 - 40 - 8. */
	NTM_MAX_CONTROL = 1232,
	/* Sliding replay window, in messages (a multiple of 64). */
	NTM_REPLAY_WINDOW = 2048,
};

/*
 * A sender stops using a key before its counter can wrap (it asks for a
 * new key epoch instead); receivers refuse counters at or above this.
 */
#define NTM_COUNTER_REJECT_AFTER 0xffffffffffffe000ULL

#ifdef __cplusplus
}
#endif

/* Size and layout checks at compile time, in C11, C++ and the kernel. */
#ifdef __cplusplus
#define NTM_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NTM_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
NTM_STATIC_ASSERT(sizeof(struct ntm_hdr) == NTM_HDR_LEN, "ntm_hdr must be 32 bytes");
NTM_STATIC_ASSERT(sizeof(struct ntm_ctl_hdr) == NTM_CTL_HDR_LEN, "ntm_ctl_hdr must be 48 bytes");
NTM_STATIC_ASSERT(__builtin_offsetof(struct ntm_hdr, instance) == NTM_NONCE_OFFSET,
		  "nonce starts at the instance field");
NTM_STATIC_ASSERT(__builtin_offsetof(struct ntm_hdr, counter) == 8, "counter at 8");
NTM_STATIC_ASSERT(__builtin_offsetof(struct ntm_hdr, id) == 16, "id at 16");
NTM_STATIC_ASSERT(__builtin_offsetof(struct ntm_ctl_hdr, timestamp_ms) == 32, "timestamp at 32");
NTM_STATIC_ASSERT(__builtin_offsetof(struct ntm_ctl_hdr, txid) == 40, "txid at 40");
NTM_STATIC_ASSERT(NTM_REPLAY_WINDOW % 64 == 0, "window is whole 64-bit words");

#endif /* NTM_WIRE_H */
