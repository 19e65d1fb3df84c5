#!/usr/bin/python3
"""Keystroke echo latency through an interactive ssh session (pty on both ends).

Spawns `ssh -tt ... 'stty raw -echo; echo READY; exec cat'` on a local pty,
waits for READY, then sends one byte at a time and waits for that byte to come
back (cat on the remote pty echoes it), SAMPLES times. Prints one JSON object:
{"samples": n, "p50_ms": .., "p90_ms": .., "p99_ms": .., "max_ms": .., "mean_ms": ..}.

Usage: echo_latency.py [--samples N] [--gap-ms MS] [--timeout S] [--duration S] [--raw]
       -- ssh ARGS...
(the ssh command line without the remote command; this script appends -tt and
the command). Environment (SSH_ASKPASS, ...) is passed through unchanged.
"""
import argparse
import json
import os
import pty
import select
import signal
import sys
import time

REMOTE = "stty raw -echo; echo READY; exec cat"


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def read_until(fd, needle, deadline, buf=b""):
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for %r (got %r)" % (needle, buf[-200:]))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            raise EOFError("ssh exited before %r (got %r)" % (needle, buf[-400:]))
        buf += chunk
    return buf


def measure(ssh_argv, samples, gap_ms, timeout, env=None, duration=None, keep_raw=False,
            sample_timeout=5.0):
    """SAMPLES keystrokes (or fewer: stops once DURATION seconds of sampling have passed);
    KEEP_RAW adds every sample (ms) as "raw_ms"."""
    argv = [ssh_argv[0], "-tt"] + ssh_argv[1:] + [REMOTE]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            if env is None:
                os.execvp(argv[0], argv)
            else:
                os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    lat = []
    try:
        read_until(fd, b"READY", time.monotonic() + timeout)
        time.sleep(0.2)
        # Drain whatever followed READY (a newline).
        while select.select([fd], [], [], 0.05)[0]:
            if not os.read(fd, 4096):
                break
        deadline_all = time.monotonic() + timeout + samples * (0.5 + gap_ms / 1000.0)
        stop_at = time.monotonic() + duration if duration else None
        for i in range(samples):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            b = bytes([ord("a") + i % 26])
            t0 = time.perf_counter()
            os.write(fd, b)
            got = b""
            while b not in got:
                r, _, _ = select.select([fd], [], [], sample_timeout)
                if not r or time.monotonic() > deadline_all:
                    raise TimeoutError("no echo for sample %d" % i)
                chunk = os.read(fd, 64)
                if not chunk:
                    raise EOFError("ssh exited during sample %d" % i)
                got += chunk
            lat.append((time.perf_counter() - t0) * 1000.0)
            if gap_ms > 0:
                time.sleep(gap_ms / 1000.0)
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(fd)
    s = sorted(lat)
    out = {
        "samples": len(s),
        "p50_ms": percentile(s, 50),
        "p90_ms": percentile(s, 90),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1],
        "mean_ms": sum(s) / len(s),
    }
    if keep_raw:
        out["raw_ms"] = lat
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--gap-ms", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--duration", type=float, help="stop sampling after this many seconds")
    ap.add_argument("--sample-timeout", type=float, default=5.0,
                    help="seconds without the echo of one keystroke before the session "
                         "counts as failed (a slower echo is measured)")
    ap.add_argument("--raw", action="store_true", help="add every sample as raw_ms")
    ap.add_argument("ssh", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    ssh = a.ssh[1:] if a.ssh and a.ssh[0] == "--" else a.ssh
    if not ssh:
        ap.error("give the ssh command after --")
    print(json.dumps(measure(ssh, a.samples, a.gap_ms, a.timeout, duration=a.duration,
                             sample_timeout=a.sample_timeout,
                             keep_raw=a.raw)))


if __name__ == "__main__":
    sys.exit(main())
