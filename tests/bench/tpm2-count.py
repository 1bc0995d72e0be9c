#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Counts the TPM2 commands in a pcapng file written by tpm2-tss's pcap TCTI
# (TCTI_PCAP_FILE=… with --tpm2-device=pcap:<tcti>). Prints "N CC1,CC2,…".
import struct, sys

NAMES = {
    0x131: "CreatePrimary", 0x144: "Startup", 0x153: "Create", 0x157: "Load", 0x15e: "Unseal",
    0x165: "FlushContext", 0x167: "LoadExternal", 0x173: "ReadPublic", 0x176: "StartAuthSession",
    0x177: "VerifySignature", 0x17a: "GetCapability", 0x17e: "PCR_Read", 0x17f: "PolicyPCR",
    0x180: "PolicyRestart", 0x16a: "PolicyAuthorize", 0x189: "PolicyGetDigest", 0x17b: "GetRandom",
    0x182: "PCR_Extend", 0x18a: "TestParms",
}

def frames(path):
    d = open(path, "rb").read()
    off = 0
    while off + 12 <= len(d):
        btype, blen = struct.unpack_from("<II", d, off)
        if blen < 12:
            break
        if btype == 6:  # enhanced packet block
            caplen = struct.unpack_from("<I", d, off + 20)[0]
            yield d[off + 28: off + 28 + caplen]
        off += blen

def tpm_command(pkt):
    """The TPM command code if pkt is IPv4/TCP to the TPM port (2321), else None."""
    if len(pkt) < 40 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0xF) * 4
    dport = struct.unpack_from(">H", pkt, ihl + 2)[0]
    data = pkt[ihl + (pkt[ihl + 12] >> 4) * 4:]
    if dport != 2321 or len(data) < 10:
        return None
    return struct.unpack_from(">I", data, 6)[0]

cmds = [c for c in map(tpm_command, frames(sys.argv[1])) if c is not None]
print(len(cmds), ",".join(NAMES.get(c, hex(c)) for c in cmds))
