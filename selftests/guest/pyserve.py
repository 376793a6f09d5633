# SPDX-License-Identifier: GPL-2.0
"""A warm Python for the guest selftests.

    python3 -I -S pyserve.py SOCKET

Listens on the unix socket SOCKET. Each connection is one run from the pyrun
client (selftests/guest/pyrun.c): its stdin, stdout and stderr (SCM_RIGHTS),
then the working directory, environment and argv of "python3 -I -S ARGV...". A
forked handler forks the runner, which takes those descriptors, directory and
environment and runs the script as __main__ with the modules below already
imported; the handler sends back the exit status (128 + signal if killed) and
kills the runner's process group if the client goes away first (timeout(1)).

A python3 start costs about 3.5 s of the emulated KASAN guest (most of it
importing the standard library), and the selftests start Python about a hundred
times; forking this process costs a few tenths of a second.
"""

import array
import os
import select
import signal
import socket
import struct
import sys
import traceback

# What the guest scripts import (warm in every runner).
import ctypes  # noqa: F401
import errno  # noqa: F401
import hashlib  # noqa: F401
import io  # noqa: F401
import json  # noqa: F401
import math  # noqa: F401
import mmap  # noqa: F401
import random
import re  # noqa: F401
import shutil  # noqa: F401
import stat  # noqa: F401
import subprocess  # noqa: F401
import time  # noqa: F401

ctypes.CDLL(None, use_errno=True)


def recv_exact(conn, n):
    out = b""
    while len(out) < n:
        b = conn.recv(n - len(out))
        if not b:
            raise EOFError("client closed the connection")
        out += b
    return out


def reopen(fd, mode, old, line):
    return open(fd, mode, encoding=old.encoding, errors=old.errors, closefd=False,
                buffering=1 if line else -1)


def exit_code(e):
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c & 0xFF
    print(c, file=sys.stderr)
    return 1


def run(fds, cwd, env, argv):
    """The runner: never returns."""
    rc = 1
    try:
        os.setpgid(0, 0)
        for i, fd in enumerate(fds[:3]):
            os.dup2(fd, i)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        sys.stdin = reopen(0, "r", sys.__stdin__, False)
        sys.stdout = reopen(1, "w", sys.__stdout__, os.isatty(1))
        sys.stderr = reopen(2, "w", sys.__stderr__, True)
        os.chdir(cwd)
        os.environb.clear()
        for e in env:
            k, _, v = e.partition(b"=")
            if k:
                os.environb[k] = v
        random.seed()
        args = [os.fsdecode(a) for a in argv]
        if args[0] == "-c":
            name, src, sys.argv = "<string>", args[1], ["-c"] + args[2:]
        elif args[0] == "-":
            name, src, sys.argv = "<stdin>", sys.stdin.read(), args
        else:
            name, sys.argv = args[0], args
            with open(name, "rb") as f:
                src = f.read()
        g = {"__name__": "__main__", "__file__": name, "__builtins__": __builtins__}
        code = compile(src, name, "exec")
        try:
            exec(code, g)
            rc = 0
        except SystemExit as e:
            rc = exit_code(e)
    except SystemExit as e:
        rc = exit_code(e)
    except BaseException:
        traceback.print_exc()
        rc = 1
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    os._exit(rc)


def handle(conn):
    """The handler of one connection: never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 125
    try:
        msg, anc, _, _ = conn.recvmsg(1, socket.CMSG_LEN(3 * 4))
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += array.array("i", data[:len(data) - len(data) % 4])
        if len(msg) != 1 or len(fds) != 3:
            raise ValueError("bad request (%d bytes, %d descriptors)" % (len(msg), len(fds)))
        n = struct.unpack("<I", msg + recv_exact(conn, 3))[0]
        if n > 16 << 20:
            raise ValueError("request of %d bytes" % n)
        fields = recv_exact(conn, n).split(b"\0")[:-1]
        ne = int(fields[1])
        cwd, env, argv = fields[0], fields[2:2 + ne], fields[2 + ne:]
        if not argv:
            raise ValueError("no script")
        pid = os.fork()
        if pid == 0:
            conn.close()
            run(fds, cwd, env, argv)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        ready, _, _ = select.select([conn, pidfd], [], [])
        if pidfd not in ready:
            # The client is gone (killed by timeout(1)): so is the script.
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        if code < 0:
            code = 128 - code
    except BaseException:
        traceback.print_exc()
    try:
        conn.sendall(struct.pack("<i", code))
    except OSError:
        pass
    os._exit(0)


def main():
    path = sys.argv[1]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    # Handlers are reaped by the kernel; each handler waits for its runner.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("pyserve: ready on %s" % path, flush=True)
    while True:
        try:
            conn, _ = srv.accept()
        except InterruptedError:
            continue
        if os.fork() == 0:
            srv.close()
            handle(conn)
        conn.close()


if __name__ == "__main__":
    main()
