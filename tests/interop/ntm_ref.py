#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An independent reference of NTMobile's framing, written from
docs/protocol.md alone with Debian's python3-cryptography (not from the C++
code).  It produces the known-answer vectors that the C++ unit tests check,
so a mistake shared by our encoder and decoder cannot hide."""
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"NTMobile v1 salt"
LABEL = b"NTMobile v1 key"
VERSION = 1
T_CAPSULE = 11
T_KEEPALIVE = 14
DOMAIN_NODE_DC, DOMAIN_PATH = 0, 1
PURPOSE_CONTROL, PURPOSE_CAPSULE = 1, 2


def derive(base, domain, role, purpose, epoch, ident):
    info = LABEL + bytes([domain, role, purpose, epoch]) + ident
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(base)


def header(mtype, domain, role, epoch, instance, counter, ident):
    flags = domain | (role << 2)
    return struct.pack(">BBBBIQ", VERSION, mtype, flags, epoch, instance, counter) + ident


def capsule(path_key, role, path_id, epoch, instance, counter, payload):
    k = derive(path_key, DOMAIN_PATH, role, PURPOSE_CAPSULE, epoch, path_id)
    h = header(T_CAPSULE, DOMAIN_PATH, role, epoch, instance, counter, path_id)
    return h + AESGCM(k).encrypt(h[4:16], payload, h)


def control(base, domain, role, epoch, instance, counter, ident, ts_ms, txid, mtype, body):
    k = derive(base, domain, role, PURPOSE_CONTROL, epoch, ident)
    h = header(mtype, domain, role, epoch, instance, counter, ident) + struct.pack(">QII", ts_ms, txid, 0)
    return h + AESGCM(k).encrypt(h[4:16], body, h)


def main():
    path_key = bytes(range(32))
    path_id = bytes(range(0x10, 0x20))
    payload = bytes.fromhex("4500001c00004000401100006440000164400002")[:20] + b"NTMobile"
    print("capsule", capsule(path_key, 0, path_id, 1, 0, 7, payload).hex())
    print("capsule_keepalive", capsule(path_key, 1, path_id, 1, 0, 0, b"").hex())
    node_key = bytes([0xA5] * 32)
    node_id = bytes(range(0xA0, 0xB0))
    ka = struct.pack(">IH", 12, 345)  # Keepalive body: active_paths, load_permille
    print("keepalive", control(node_key, DOMAIN_NODE_DC, 0, 0, 0x01020304, 1_700_000_000_000_000_000,
                               node_id, 1_700_000_000_000, 0xDEADBEEF, T_KEEPALIVE, ka).hex())


if __name__ == "__main__":
    sys.exit(main())
