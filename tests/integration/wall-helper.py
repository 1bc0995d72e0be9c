#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for ask-wall.bats.

wall-helper.py ptys N OUTDIR CMD...
    Opens N pseudo-terminals in raw mode (no output processing: the bytes
    written are the bytes read), runs CMD with $PTY0..$PTY<N-1> set to their
    device paths, and copies whatever is written to terminal K into
    OUTDIR/ptyK.out as it arrives, until CMD has exited and 0.2 s more.
    Terminals listed in $WALL_STOP (indexes) have their output stopped, as
    with Ctrl-S. Exits with CMD's status.

wall-helper.py utmp FILE TYPE:USER:LINE...
    Writes one 384-byte glibc x86-64 struct utmp per argument to FILE
    (7 is USER_PROCESS, 8 DEAD_PROCESS).
"""
import os
import select
import struct
import subprocess
import sys
import termios
import time
import tty

UTMP = struct.Struct("<hhi32s4s32s256shhiii4i20s")


def ptys(argv):
    n, outdir, cmd = int(argv[0]), argv[1], argv[2:]
    stop = {int(x) for x in os.environ.get("WALL_STOP", "").split()}
    env = dict(os.environ)
    masters, slaves, outs = [], [], []
    for k in range(n):
        m, s = os.openpty()
        tty.setraw(s)
        if k in stop:
            termios.tcflow(s, termios.TCOOFF)
        masters.append(m)
        slaves.append(s)  # kept open: no hangup when the agent closes its fd
        env["PTY%d" % k] = os.ttyname(s)
        outs.append(open(os.path.join(outdir, "pty%d.out" % k), "wb", buffering=0))

    def drain(timeout):
        ready, _, _ = select.select(masters, [], [], timeout)
        for m in ready:
            outs[masters.index(m)].write(os.read(m, 65536))

    proc = subprocess.Popen(cmd, env=env)
    while proc.poll() is None:
        drain(0.02)
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        drain(0.02)
    sys.exit(proc.returncode)


def utmp(argv):
    assert UTMP.size == 384
    with open(argv[0], "wb") as f:
        for spec in argv[1:]:
            typ, user, line = spec.split(":", 2)
            f.write(UTMP.pack(int(typ), 0, os.getpid(), line.encode(), line[-4:].encode(), user.encode(), b"",
                              0, 0, 0, int(time.time()), 0, 0, 0, 0, 0, b""))


if __name__ == "__main__":
    {"ptys": ptys, "utmp": utmp}[sys.argv[1]](sys.argv[2:])
