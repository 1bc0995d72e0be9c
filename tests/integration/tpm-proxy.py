#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A man in the middle between a TPM2 client and swtpm, for cred-tpm2.bats.

tpm-proxy.py REAL_SOCK PROXY_SOCK [--flip-unseal]
    Listens on PROXY_SOCK and PROXY_SOCK.ctrl (what the tpm2-tss swtpm TCTI,
    swtpm:path=PROXY_SOCK, connects to) and forwards to REAL_SOCK and
    REAL_SOCK.ctrl. Prints "ready" once both sockets accept connections and
    runs until killed.

    With --flip-unseal, the first byte of the data in every successful
    TPM2_Unseal response is altered on its way back, and a line saying so is
    appended to PROXY_SOCK.log: proof for the test that the tamper happened.
"""
import os
import socket
import socketserver
import struct
import sys
import threading

TPM2_CC_UNSEAL = 0x0000015E
TPM2_ST_SESSIONS = 0x8002
# Response: tag(2) size(4) rc(4), parameterSize(4) (sessions present), then
# outData as a TPM2B: size(2) and the unsealed bytes.
UNSEAL_DATA_OFFSET = 16


def recv_exact(sock, n):
    """n bytes, or None on a clean EOF before the first; a short read mid-way is an error."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if not buf:
                return None
            raise EOFError("connection closed mid-message")
        buf += chunk
    return buf


def recv_message(sock):
    """One framed TPM2 command or response: the size field covers the whole of it."""
    hdr = recv_exact(sock, 10)
    if hdr is None:
        return None
    _, size, _ = struct.unpack(">HII", hdr)
    if size < 10:
        raise ValueError(f"bad TPM2 message size {size}")
    rest = recv_exact(sock, size - 10) if size > 10 else b""
    if rest is None:
        raise EOFError("connection closed mid-message")
    return hdr + rest


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    # A killed proxy must not wait for its connections.
    daemon_threads = True


class CommandHandler(socketserver.BaseRequestHandler):
    """Relays framed commands one at a time, so the response can be matched to
    its command code; the TCTI usually sends one per connection, but any
    number is handled."""

    def handle(self):
        real = None
        try:
            while True:
                cmd = recv_message(self.request)
                if cmd is None:
                    return
                if real is None:
                    real = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    real.connect(self.server.real_path)
                real.sendall(cmd)
                rsp = recv_message(real)
                if rsp is None:
                    return
                cc = struct.unpack(">I", cmd[6:10])[0]
                rsp = self.server.tamper(cc, rsp)
                self.request.sendall(rsp)
        except (OSError, EOFError, ValueError) as e:
            print(f"tpm-proxy: {e}", file=sys.stderr, flush=True)
        finally:
            if real is not None:
                real.close()


def pump(src, dst):
    """Raw bytes one way until EOF, then half-close so the other side sees it too."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class CtrlHandler(socketserver.BaseRequestHandler):
    """swtpm's control channel needs no inspection: relayed as raw bytes both ways."""

    def handle(self):
        real = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            real.connect(self.server.real_path)
        except OSError as e:
            print(f"tpm-proxy: ctrl: {e}", file=sys.stderr, flush=True)
            real.close()
            return
        back = threading.Thread(target=pump, args=(real, self.request), daemon=True)
        back.start()
        pump(self.request, real)
        back.join()
        real.close()


def main():
    args = sys.argv[1:]
    flip = "--flip-unseal" in args
    args = [a for a in args if a != "--flip-unseal"]
    if len(args) != 2:
        sys.exit("usage: tpm-proxy.py REAL_SOCK PROXY_SOCK [--flip-unseal]")
    real_sock, proxy_sock = args
    log_path = proxy_sock + ".log"
    log_lock = threading.Lock()

    def tamper(cc, rsp):
        tag, _, rc = struct.unpack(">HII", rsp[:10])
        if not flip or cc != TPM2_CC_UNSEAL or rc != 0 or tag != TPM2_ST_SESSIONS:
            return rsp
        if len(rsp) <= UNSEAL_DATA_OFFSET:
            return rsp
        old = rsp[UNSEAL_DATA_OFFSET]
        new = old ^ 0x01
        rsp = rsp[:UNSEAL_DATA_OFFSET] + bytes([new]) + rsp[UNSEAL_DATA_OFFSET + 1:]
        with log_lock, open(log_path, "a") as f:
            f.write(f"flipped Unseal response byte {UNSEAL_DATA_OFFSET}: {old:#04x} -> {new:#04x}\n")
        return rsp

    servers = []
    for path, real, handler in ((proxy_sock + ".ctrl", real_sock + ".ctrl", CtrlHandler),
                                (proxy_sock, real_sock, CommandHandler)):
        if os.path.exists(path):
            os.unlink(path)
        srv = Server(path, handler)  # binds and listens
        srv.real_path = real
        srv.tamper = tamper
        servers.append(srv)
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    # Until killed (SIGTERM's default action ends the process and its threads).
    threading.Event().wait()


if __name__ == "__main__":
    main()
