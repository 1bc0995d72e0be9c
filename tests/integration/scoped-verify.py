#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Independent decoder for host-key user-scoped credentials (BY_HOST_SCOPED), written
# from the format description alone, not from lib/cred.c: AES-256-GCM with key
# HMAC-SHA256(SHA256(host key), le64(7) | le32(uid) | machine-id | user name | NUL)
# and every byte before the ciphertext as AAD. Prints the payload.
#
#   scoped-verify.py HOST_SECRET MACHINE_ID_FILE UID USER_NAME CREDENTIAL
import base64
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BY_HOST_SCOPED = bytes.fromhex("55b9ed1d38594d43a8319d2ebb332ac6")


def main():
    secret_path, mid_path, uid, user, cred_path = sys.argv[1:6]
    host_key = open(secret_path, "rb").read()[16:]
    machine_id = bytes.fromhex(open(mid_path).read().strip())
    data = open(cred_path, "rb").read()
    if data[:16] != BY_HOST_SCOPED:
        data = base64.b64decode(b"".join(data.split()))
    if data[:16] != BY_HOST_SCOPED:
        sys.exit("not a BY_HOST_SCOPED credential")
    key_size, block_size, iv_size, tag_size = struct.unpack_from("<IIII", data, 16)
    if (key_size, block_size, iv_size, tag_size) != (32, 1, 12, 16):
        sys.exit("unexpected header sizes")
    iv = data[32:32 + iv_size]
    p = (32 + iv_size + 7) & ~7
    (flags,) = struct.unpack_from("<Q", data, p)
    if flags != 7:
        sys.exit("scope flags %d" % flags)
    p += 8
    msg = struct.pack("<QI", 7, int(uid)) + machine_id + user.encode() + b"\0"
    key = hmac.new(hashlib.sha256(host_key).digest(), msg, hashlib.sha256).digest()
    plain = AESGCM(key).decrypt(iv, data[p:], data[:p])
    (name_size,) = struct.unpack_from("<I", plain, 16)
    meta = max((20 + name_size + 7) & ~7, 24)
    sys.stdout.buffer.write(plain[meta:])


if __name__ == "__main__":
    main()
