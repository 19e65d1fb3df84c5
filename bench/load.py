#!/usr/bin/python3
"""Load and connection-flood test of portcullisd, with a pass/fail verdict.

Everything runs on loopback: a target sshd and portcullisd with a temporary state
directory (the setup of bench/portcullis_bench.py: accounts with key + TOTP made with the
admin CLI, the stock ssh client answering the code through SSH_ASKPASS), all stopped on
exit. See bench/README.md ("bench/load") and docs/RELIABILITY.md.

Phases:
  load   N concurrent exec sessions (one account each: a TOTP step is single-use), each
         echoing a pseudo-random stream through `cat` on the target; every byte that comes
         back is compared with what was sent. Plus a few interactive pty sessions typing
         one byte at a time and timing its echo. Gateway CPU time and peak RSS (VmHWM).
  flood  thousands of stalled pre-auth connections (TCP connected and silent, or SSH
         banner sent and silent), first from one source address, then spread over many
         (127.0.x.y on loopback), while a real user logs in and runs a command.

Exit status: 0 when every criterion passed, 1 when one failed or the setup broke.
"""
import argparse
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, HERE)
import echo_latency  # noqa: E402
import portcullis_bench as pb  # noqa: E402
from portcullis_bench import BenchError, Deadline, log, loadavg  # noqa: E402

PATTERN_LEN = 1048573  # prime: a slip by a whole number of writes or reads still shows
READ_MAX = 262144
WRITE_CHUNK = 65536
REMOTE_ECHO = "printf 'READY\\n'; exec cat"
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect(), not bind()


def percentile(values, p):
    return echo_latency.percentile(sorted(values), p) if values else float("nan")


def status_kib(pid, key):
    return int(pb.proc_status(pid)[key].split()[0])


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def source_address(i):
    """A distinct loopback source per session (the gateway caps pre-auth per source)."""
    return "127.0.%d.%d" % (2 + i // 250, 1 + i % 250)


class StreamSession:
    """One `ssh gw 'cat'` echoing a pseudo-random stream back; every byte compared."""

    def __init__(self, idx, source):
        self.idx = idx
        self.source = source
        self.offset = (idx * 104729) % PATTERN_LEN
        self.sent = self.recv = 0
        self.corrupt = 0  # bytes that differ from what was sent at that position
        self.first_bad = None
        self.state = "new"  # login, stream, drain, done, failed
        self.why = ""
        self.ready = b""
        self.wblocked = False
        self.eof = False
        self.p = None

    def fail(self, why):
        if self.state not in ("failed",):
            self.state = "failed"
            self.why = why


class Load:
    def __init__(self, rig, args, pattern):
        self.rig = rig
        self.a = args
        self.pp = memoryview(pattern + pattern[:READ_MAX])
        self.sel = selectors.DefaultSelector()
        self.sessions = []
        self.by_fd = {}

    # ---- one session's I/O -----------------------------------------------
    def launch(self, s):
        argv, env = self.rig.ssh(self.a.target_mode, ["-b", s.source])
        s.errfile = os.path.join(self.rig.tmp, "clients", "stream%04d.err" % s.idx)
        with open(s.errfile, "wb") as ef:
            s.p = subprocess.Popen(argv + [REMOTE_ECHO], env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=ef, bufsize=0,
                                   start_new_session=True)
        self.rig.clients.append(s.p)
        s.win = s.p.stdin.fileno()
        s.rout = s.p.stdout.fileno()
        os.set_blocking(s.win, False)
        os.set_blocking(s.rout, False)
        self.sel.register(s.rout, selectors.EVENT_READ, ("r", s))
        s.state = "login"
        s.t_launch = time.monotonic()

    def pump(self, s, now):
        """Writes as much as the in-flight window (and the rate, if any) allows."""
        while s.state == "stream" and not s.wblocked:
            room = self.a.inflight_kib * 1024 - (s.sent - s.recv)
            if self.a.rate_kib:
                room = min(room, int(self.a.rate_kib * 1024 * (now - s.t_up)) - s.sent)
            if room <= 0:
                return
            n = min(room, WRITE_CHUNK)
            pos = (s.offset + s.sent) % PATTERN_LEN
            try:
                w = os.write(s.win, self.pp[pos:pos + n])
            except BlockingIOError:
                s.wblocked = True
                self.sel.register(s.win, selectors.EVENT_WRITE, ("w", s))
                return
            except (BrokenPipeError, OSError) as e:
                s.fail("write to ssh failed: %s" % e)
                return
            s.sent += w

    def on_data(self, s, data):
        pos = (s.offset + s.recv) % PATTERN_LEN
        n = len(data)
        if s.recv + n > s.sent:
            s.corrupt += s.recv + n - s.sent
            if s.first_bad is None:
                s.first_bad = s.sent
        if data != self.pp[pos:pos + n]:
            want = bytes(self.pp[pos:pos + n])
            bad = sum(1 for a, b in zip(data, want) if a != b)
            if bad:
                s.corrupt += bad
                if s.first_bad is None:
                    s.first_bad = s.recv + next(i for i in range(n) if data[i] != want[i])
        s.recv += n

    def on_read(self, s, now):
        try:
            data = os.read(s.rout, READ_MAX)
        except BlockingIOError:
            return
        except OSError as e:
            data = b""
            s.why = s.why or "read failed: %s" % e
        if not data:
            s.eof = True
            self.sel.unregister(s.rout)
            if s.state in ("login", "stream"):
                s.fail("ssh output ended early (%s)" % ("before READY" if s.state == "login"
                                                        else "while streaming"))
            return
        if s.state == "login":
            s.ready += data
            if b"READY\n" not in s.ready:
                if len(s.ready) > 4096:
                    s.fail("unexpected output before READY: %r" % s.ready[:200])
                return
            head, _, rest = s.ready.partition(b"READY\n")
            if head:
                s.fail("unexpected output before READY: %r" % head[:200])
                return
            s.state = "stream"
            s.t_up = now
            s.login_s = now - s.t_launch
            s.ready = b""
            if rest:
                self.on_data(s, rest)
            self.pump(s, now)
            return
        self.on_data(s, data)
        self.pump(s, now)

    def on_write(self, s, now):
        self.sel.unregister(s.win)
        s.wblocked = False
        self.pump(s, now)

    def drain(self, s):
        if s.wblocked:
            self.sel.unregister(s.win)
            s.wblocked = False
        s.p.stdin.close()  # EOF: the target's cat ends, the session closes
        s.state = "drain"

    # ---- the run ---------------------------------------------------------
    def poll(self, timeout):
        now = time.monotonic()
        for key, _ in self.sel.select(timeout):
            kind, s = key.data
            if kind == "r":
                self.on_read(s, now)
            else:
                self.on_write(s, now)

    def run(self):
        a = self.a
        rig = self.rig
        os.makedirs(os.path.join(rig.tmp, "clients"), exist_ok=True)
        gw = rig.gw.pid
        res = {"sessions": a.sessions, "duration_s": a.duration, "pty_sessions": a.pty_sessions}
        self.sessions = [StreamSession(i, source_address(i)) for i in range(a.sessions)]
        # Baseline: keystroke echo through the gateway before the load.
        argv, env = rig.ssh(a.target_mode,
                            ["-b", source_address(a.sessions + a.pty_sessions)])
        base = echo_latency.measure(argv, a.baseline_keystrokes, a.echo_gap_ms, 30, env=env)
        res["baseline_keystroke_p50_ms"] = base["p50_ms"]
        res["baseline_keystroke_p99_ms"] = base["p99_ms"]
        log("load: keystroke echo before the load: p50 %.2f ms, p99 %.2f ms (%d keystrokes)" % (
            base["p50_ms"], base["p99_ms"], base["samples"]))
        # Ramp up: at most login_concurrency logins in flight (the gateway allows 100
        # unauthenticated connections, 10 per source); each streams as soon as it is up.
        log("load: opening %d streaming sessions (%d logins at a time) ..." % (
            a.sessions, a.login_concurrency))
        t_ramp = time.monotonic()
        todo = list(self.sessions)
        while True:
            now = time.monotonic()
            logging_in = sum(1 for s in self.sessions if s.state == "login")
            while todo and logging_in < a.login_concurrency:
                self.launch(todo.pop(0))
                logging_in += 1
            for s in self.sessions:
                if s.state == "login" and now - s.t_launch > a.login_timeout:
                    s.fail("not up within %d s" % a.login_timeout)
                elif s.state == "stream":
                    self.pump(s, now)
            if not todo and logging_in == 0:
                break
            if now - t_ramp > a.login_timeout * 4:
                raise BenchError("ramp-up did not finish")
            self.poll(0.02)
        res["ramp_s"] = time.monotonic() - t_ramp
        up = [s for s in self.sessions if s.state == "stream"]
        logins = sorted(s.login_s for s in up)
        res["login_s_p50"] = percentile(logins, 50)
        res["login_s_max"] = logins[-1] if logins else float("nan")
        log("load: %d of %d sessions up in %.1f s (login p50 %.2f s, max %.2f s); load %s" % (
            len(up), a.sessions, res["ramp_s"], res["login_s_p50"], res["login_s_max"],
            loadavg()))
        # Interactive sessions typing while the streams run, each driven by its own
        # process (echo_latency.py) so that this driver's loop cannot delay them.
        typists = []
        for k in range(a.pty_sessions):
            argv, env = rig.ssh(a.target_mode, ["-b", source_address(a.sessions + k)])
            typists.append((argv, env))
        # The measured window.
        cpu0 = pb.cpu_ticks(gw)
        recv0 = sum(s.recv for s in self.sessions)
        t0 = time.monotonic()
        procs = []
        for k, (argv, env) in enumerate(typists):
            out = open(os.path.join(rig.tmp, "clients", "pty%d.json" % k), "w+b")
            procs.append((subprocess.Popen(
                ["/usr/bin/python3", os.path.join(HERE, "echo_latency.py"), "--samples",
                 str(10 ** 7), "--gap-ms", str(a.echo_gap_ms), "--timeout", "60",
                 # A keystroke echoed late is measured (the p99 and max show it);
                 # only one never echoed within 30 s makes the session a failure.
                 "--sample-timeout", "30",
                 "--duration", str(a.duration), "--raw", "--"] + argv, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True), out))
            rig.clients.append(procs[-1][0])
        next_report = t0 + 10
        while time.monotonic() - t0 < a.duration:
            now = time.monotonic()
            for s in self.sessions:
                if s.state == "stream" and not s.wblocked:
                    self.pump(s, now)
            self.poll(0.02)
            if now >= next_report:
                next_report += 10
                log("load: %.0f s, %.1f MiB echoed, %d streaming, gateway RSS %d KiB, load %s" % (
                    now - t0, (sum(s.recv for s in self.sessions) - recv0) / 2 ** 20,
                    sum(1 for s in self.sessions if s.state == "stream"),
                    pb.rss_kib(gw), loadavg()))
        t1 = time.monotonic()
        recv1 = sum(s.recv for s in self.sessions)
        cpu1 = pb.cpu_ticks(gw)
        st = pb.proc_status(gw)
        res.update({
            "window_s": t1 - t0,
            "echoed_mib": (recv1 - recv0) / 2 ** 20,
            "throughput_mib_s": (recv1 - recv0) / 2 ** 20 / (t1 - t0),
            "gateway_cpu_s": (cpu1 - cpu0) / rig.ticks,
            "gateway_cpu_pct": 100.0 * (cpu1 - cpu0) / rig.ticks / (t1 - t0),
            "gateway_rss_kib": int(st["VmRSS"].split()[0]),
            "gateway_hwm_kib": int(st["VmHWM"].split()[0]),
            "gateway_threads": int(st["Threads"]),
            "gateway_fds": fd_count(gw),
            "load_during": loadavg(),
        })
        # End: EOF on every stream, then every echoed byte must be back and ssh exit 0.
        for s in self.sessions:
            if s.state == "stream":
                self.drain(s)
        end = time.monotonic() + 60
        while any(s.state == "drain" and not s.eof for s in self.sessions):
            if time.monotonic() > end:
                for s in self.sessions:
                    if s.state == "drain" and not s.eof:
                        s.fail("no end of output within 60 s after EOF (%d of %d bytes back)" % (
                            s.recv, s.sent))
                break
            self.poll(0.1)
        for s in self.sessions:
            if s.p is None:
                continue
            try:
                rc = s.p.wait(timeout=max(1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                rc = None
            if s.state == "drain":
                if rc != 0:
                    s.fail("ssh exited %s" % rc)
                elif s.recv != s.sent:
                    s.fail("%d bytes sent, %d came back" % (s.sent, s.recv))
                elif s.corrupt:
                    s.fail("%d corrupted bytes (first at %d)" % (s.corrupt, s.first_bad))
                else:
                    s.state = "done"
        pty_results, pty_errors = [], []
        for k, (p, out) in enumerate(procs):
            try:
                p.wait(timeout=max(5, end + 30 - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            out.seek(0)
            text = out.read().decode(errors="replace")
            out.close()
            try:
                pty_results.append(json.loads(text.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                pty_results.append(None)
                pty_errors.append("pty session %d: %s" % (k, text.strip()[-300:]))
        rig.clients = [p for p in rig.clients if p.poll() is None]
        failed = [s for s in self.sessions if s.state != "done"]
        lat = []
        for r in pty_results:
            if r:
                lat += r["raw_ms"]
        res.update({
            "failed_sessions": len(failed) + sum(1 for r in pty_results if r is None),
            "failures": ["stream %d (%s): %s; stderr: %s" % (
                s.idx, s.source, s.why, rig.tail(s.errfile, 300).strip()) for s in failed[:10]] +
            pty_errors,
            "sent_bytes": sum(s.sent for s in self.sessions),
            "received_bytes": sum(s.recv for s in self.sessions),
            "lost_bytes": sum(max(0, s.sent - s.recv) for s in self.sessions),
            "corrupted_bytes": sum(s.corrupt for s in self.sessions),
            "keystrokes": len(lat),
            "keystrokes_over_100ms": sum(1 for v in lat if v > 100),
            "pty_sessions_summary": [{k: v for k, v in r.items() if k != "raw_ms"} if r else None
                                     for r in pty_results],
            "keystroke_p50_ms": percentile(lat, 50),
            "keystroke_p99_ms": percentile(lat, 99),
            "keystroke_max_ms": max(lat) if lat else float("nan"),
        })
        log("load: %.1f MiB/s echoed, %d failed, %d lost, %d corrupted, keystroke p99 %.1f ms, "
            "gateway CPU %.1f s (%.0f%%), VmHWM %d KiB" % (
                res["throughput_mib_s"], res["failed_sessions"], res["lost_bytes"],
                res["corrupted_bytes"], res["keystroke_p99_ms"], res["gateway_cpu_s"],
                res["gateway_cpu_pct"], res["gateway_hwm_kib"]))
        for f in res["failures"]:
            log("  " + f)
        return res


class Flood(threading.Thread):
    """Keeps COUNT stalled connections per (source, kind) open, reconnecting at once when
    the gateway closes one, at most RATE new connections a second over all of them.
    kind "tcp": connected and silent; "banner": sends an SSH banner, then silent."""

    def __init__(self, port, plan, rate):
        super().__init__(daemon=True)
        self.port = port
        self.slots = [[src, kind, None, "idle"] for src, kind, n in plan for _ in range(n)]
        self.rate = rate
        self.stop_event = threading.Event()
        self.stats = {"connects": 0, "established": 0, "closed_by_gateway": 0, "errors": 0}
        self.open_now = 0
        self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 (reported)
            self.error = repr(e)

    def _run(self):
        sel = selectors.DefaultSelector()
        budget, last = 0.0, time.monotonic()
        idle = list(range(len(self.slots)))
        while not self.stop_event.is_set():
            now = time.monotonic()
            budget = min(self.rate, budget + (now - last) * self.rate)
            last = now
            while idle and budget >= 1:
                i = idle.pop(0)
                slot = self.slots[i]
                budget -= 1
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                    sock.bind((slot[0], 0))
                    sock.setblocking(False)
                    sock.connect_ex(("127.0.0.1", self.port))
                except OSError:
                    self.stats["errors"] += 1
                    sock.close()
                    idle.append(i)
                    continue
                self.stats["connects"] += 1
                slot[2], slot[3] = sock, "connecting"
                sel.register(sock, selectors.EVENT_WRITE, i)
            for key, mask in sel.select(0.01):
                i = key.data
                slot = self.slots[i]
                sock = slot[2]
                if slot[3] == "connecting":
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    sel.unregister(sock)
                    if err:
                        self.stats["errors"] += 1
                        sock.close()
                        slot[2], slot[3] = None, "idle"
                        idle.append(i)
                        continue
                    self.stats["established"] += 1
                    self.open_now += 1
                    if slot[1] == "banner":
                        try:
                            sock.send(b"SSH-2.0-flood_1.0\r\n")
                        except OSError:
                            pass
                    slot[3] = "open"
                    sel.register(sock, selectors.EVENT_READ, i)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:  # the gateway closed it: take its place again
                    sel.unregister(sock)
                    sock.close()
                    self.open_now -= 1
                    self.stats["closed_by_gateway"] += 1
                    slot[2], slot[3] = None, "idle"
                    idle.append(i)
        for slot in self.slots:
            if slot[2] is not None:
                slot[2].close()

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)


class LoadRig(pb.Bench):
    def setup_load(self, accounts):
        self.setup_base()
        self.tport, hostkey = self.start_sshd("target", [self.client_pub, self.upstream_pub])
        self.setup_store(hostkey, accounts)
        self.start_gateway("".join(line + "\n" for line in self.a.gateway_ini))
        self.write_client_config()
        self.autogroup = None
        try:
            with open("/proc/%d/autogroup" % self.gw.pid) as f:
                self.autogroup = f.read().strip()
            if self.a.gateway_autogroup_nice:
                with open("/proc/%d/autogroup" % self.gw.pid, "w") as f:
                    f.write(str(self.a.gateway_autogroup_nice))
                with open("/proc/%d/autogroup" % self.gw.pid) as f:
                    self.autogroup = f.read().strip()
        except OSError:
            pass  # no autogroup scheduling on this kernel

    def login(self, source, bound, command="echo flood-probe-ok"):
        """A real user: log in from SOURCE and run COMMAND, retrying for BOUND seconds.
        A try refused before authentication did not use its code, so the code is kept
        while its TOTP step lasts. Returns (ok, seconds, attempts, last error)."""
        t0 = time.monotonic()
        attempts, err, cached = 0, "", None
        while True:
            attempts += 1
            left = bound - (time.monotonic() - t0)
            if cached is None or cached[2] != int(time.time() // 30):
                name, code = self.acquire()
                cached = (name, code, int(time.time() // 30))
            env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
            env.update(SSH_ASKPASS=self.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY="none",
                       BENCH_CODE=cached[1])
            argv = ["ssh", "-F", self.sshcfg, "-b", source, "-o",
                    "ConnectTimeout=%d" % max(2, min(10, int(left)))] + self.identity(cached[0]) + [
                    "-l", cached[0] + ":box", "gw", command]
            try:
                r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=max(5, left + 5), start_new_session=True)
                if r.returncode == 0 and b"flood-probe-ok" in r.stdout:
                    return True, time.monotonic() - t0, attempts, ""
                err = r.stderr.decode(errors="replace").strip()[-300:]
                if "Verification code" in err or "Permission denied" in err:
                    cached = None  # the code may have been used
            except subprocess.TimeoutExpired:
                err = "ssh timed out"
                cached = None
            if time.monotonic() - t0 >= bound:
                return False, time.monotonic() - t0, attempts, err
            time.sleep(0.5)

    def flood_phase(self, name, plan, probe_source, bound, settle, hold=0.0):
        gw = self.gw.pid
        logfile = os.path.join(self.tmp, "portcullisd.log")
        log0 = os.path.getsize(logfile)
        cpu0 = pb.cpu_ticks(gw)
        rss0 = pb.rss_kib(gw)
        flood = Flood(self.gport, plan, self.a.flood_rate)
        t0 = time.monotonic()
        flood.start()
        time.sleep(settle)
        held = flood.open_now
        ok, secs, attempts, err = self.login(probe_source, bound)
        if hold > secs:
            time.sleep(hold - secs)
        res = {
            "connections_planned": len(flood.slots),
            "sources": len({p[0] for p in plan}),
            "open_when_probed": held,
            "login_ok": ok, "login_s": secs, "login_attempts": attempts, "login_error": err,
            "gateway_rss_kib": pb.rss_kib(gw), "gateway_rss_before_kib": rss0,
            "gateway_fds": fd_count(gw),
        }
        flood.stop()
        dt = time.monotonic() - t0
        res.update({k: v for k, v in flood.stats.items()})
        res["connects_per_s"] = flood.stats["connects"] / dt
        res["flood_s"] = dt
        res["flood_error"] = flood.error
        res["gateway_cpu_s"] = (pb.cpu_ticks(gw) - cpu0) / self.ticks
        res["gateway_log_kib"] = (os.path.getsize(logfile) - log0) / 1024.0
        res["gateway_alive"] = self.gw.poll() is None
        # After the flood: the next login must work at once.
        if res["gateway_alive"]:
            ok2, secs2, _, err2 = self.login(probe_source, 15)
        else:
            ok2, secs2, err2 = False, 0.0, "gateway exited %s" % self.gw.returncode
        res.update({"after_login_ok": ok2, "after_login_s": secs2, "after_login_error": err2})
        log("flood %s: %d connections from %d sources, %d open when probed, %.0f connects/s; "
            "real user login %s in %.1f s (%d tries)%s; after the flood %s in %.1f s; "
            "gateway CPU %.1f s, log +%.0f KiB, RSS %d KiB" % (
                name, res["connections_planned"], res["sources"], held, res["connects_per_s"],
                "OK" if ok else "FAILED", secs, attempts, "" if ok else " (%s)" % err,
                "OK" if ok2 else "FAILED", secs2, res["gateway_cpu_s"], res["gateway_log_kib"],
                res["gateway_rss_kib"]))
        return res


def criteria(R, a):
    """(name, figure, bound, verdict) rows; verdict pass, FAIL or info (reported only)."""
    rows = []

    def row(name, figure, bound, ok, counted=True):
        rows.append((name, str(figure), bound, "pass" if ok else ("FAIL" if counted else "info")))
    if "load" in R:
        L = R["load"]
        row("failed sessions (of %d streams + %d pty)" % (a.sessions, a.pty_sessions),
            L["failed_sessions"], "0", L["failed_sessions"] == 0)
        row("lost bytes", L["lost_bytes"], "0", L["lost_bytes"] == 0)
        row("corrupted bytes", L["corrupted_bytes"], "0", L["corrupted_bytes"] == 0)
        row("keystroke echo p99 ms under load (%d keystrokes)" % L["keystrokes"],
            "%.1f" % L["keystroke_p99_ms"],
            "<= %d" % a.max_p99_ms if a.max_p99_ms else "reported (--max-p99-ms)",
            L["keystrokes"] > 0 and (not a.max_p99_ms or L["keystroke_p99_ms"] <= a.max_p99_ms)
            if a.max_p99_ms else False, bool(a.max_p99_ms))
        hwm_bound = a.sessions * a.max_session_kib + 65536
        row("gateway peak RSS (VmHWM) KiB", L["gateway_hwm_kib"],
            "<= %d (%d KiB/session + 64 MiB)" % (hwm_bound, a.max_session_kib),
            L["gateway_hwm_kib"] <= hwm_bound)
        row("sessions left active in the store", L.get("active_after", "?"), "0",
            L.get("active_after") == 0)
        row("portcullis audit verify after the load", "exit %s" % L.get("audit_verify", "?"),
            "exit 0", L.get("audit_verify") == 0)
    for key, label in (("flood_one_source", "one source"),
                       ("flood_many_sources", "%d sources" % a.flood_sources)):
        if key not in R:
            continue
        F = R[key]
        strict = key == "flood_one_source" or a.strict_flood
        row("flood %s: real user logs in during it" % label,
            "%.1f s" % F["login_s"] if F["login_ok"] else "no (tried %.0f s)" % F["login_s"],
            "<= %d s%s" % (a.flood_login_bound, "" if strict else " (info; --lenient-flood)"),
            F["login_ok"] and F["login_s"] <= a.flood_login_bound, strict)
        row("flood %s: gateway alive, login right after" % label,
            "%s, %.1f s" % ("yes" if F["gateway_alive"] else "NO", F["after_login_s"]),
            "yes, <= 15 s", F["gateway_alive"] and F["after_login_ok"])
        grew = F["gateway_rss_kib"] - F["gateway_rss_before_kib"]
        row("flood %s: gateway RSS growth KiB during it" % label, "%+d" % grew,
            "<= %d" % a.flood_max_rss_kib, grew <= a.flood_max_rss_kib)
    return rows


def report(R, a):
    rows = criteria(R, a)
    lines = []
    if "load" in R:
        L = R["load"]
        lines += [
            "load: %d streaming + %d pty sessions, %.0f s window, ramp-up %.1f s "
            "(login p50 %.2f s, max %.2f s)" % (a.sessions, a.pty_sessions, L["window_s"],
                                                L["ramp_s"], L["login_s_p50"], L["login_s_max"]),
            "  throughput %.1f MiB/s echoed (each way through the gateway; %.0f MiB in the "
            "window), %.1f MiB sent in all" % (L["throughput_mib_s"], L["echoed_mib"],
                                               L["sent_bytes"] / 2 ** 20),
            "  keystroke echo under load p50 %.2f ms, p99 %.2f ms, max %.1f ms (%d keystrokes, "
            "%d over 100 ms); before the load p50 %.2f ms, p99 %.2f ms" % (
                L["keystroke_p50_ms"], L["keystroke_p99_ms"], L["keystroke_max_ms"],
                L["keystrokes"], L["keystrokes_over_100ms"], L["baseline_keystroke_p50_ms"],
                L["baseline_keystroke_p99_ms"]),
            "  gateway: CPU %.1f s in the window (%.0f%% of one core), VmHWM %d KiB, "
            "VmRSS %d KiB, %d threads, %d fds; load average during %s" % (
                L["gateway_cpu_s"], L["gateway_cpu_pct"], L["gateway_hwm_kib"],
                L["gateway_rss_kib"], L["gateway_threads"], L["gateway_fds"], L["load_during"]),
        ]
    for key in ("flood_one_source", "flood_many_sources"):
        if key in R:
            F = R[key]
            lines.append("%s: %d stalled connections planned from %d source(s), %d open when "
                         "probed, %d connects (%.0f/s), %d closed by the gateway; gateway CPU "
                         "%.1f s, log +%.0f KiB, RSS %d KiB, %d fds" % (
                             key, F["connections_planned"], F["sources"], F["open_when_probed"],
                             F["connects"], F["connects_per_s"], F["closed_by_gateway"],
                             F["gateway_cpu_s"], F["gateway_log_kib"], F["gateway_rss_kib"],
                             F["gateway_fds"]))
            if not F["login_ok"]:
                lines.append("  real user during the flood: %d tries, last error: %s" % (
                    F["login_attempts"], F["login_error"]))
    head = ("criterion", "figure", "bound", "")
    table = [head] + rows
    widths = [max(len(r[c]) for r in table) for c in range(4)]
    for i, r in enumerate(table):
        lines.append("  ".join(v.ljust(widths[c]) for c, v in enumerate(r)).rstrip())
        if i == 0:
            lines.append("-" * len(lines[-1]))
    return "\n".join(lines), bool(rows) and all(v != "FAIL" for _, _, _, v in rows)


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="40 sessions for 15 s, shorter floods (under 90 s)")
    ap.add_argument("--sessions", type=int, help="concurrent streaming sessions (200)")
    ap.add_argument("--duration", type=float, help="seconds of streaming (60)")
    ap.add_argument("--pty-sessions", type=int, default=4, help="interactive typing sessions")
    ap.add_argument("--echo-gap-ms", type=float, default=20.0, help="pause between keystrokes")
    ap.add_argument("--rate-kib", type=int, default=0,
                    help="per-session send rate cap in KiB/s (0: as fast as it goes)")
    ap.add_argument("--inflight-kib", type=int, default=512,
                    help="bytes a session may have sent but not yet seen back")
    ap.add_argument("--login-concurrency", type=int, default=16)
    ap.add_argument("--baseline-keystrokes", type=int,
                    help="keystrokes timed before the load starts (200, quick 100)")
    ap.add_argument("--login-timeout", type=int, default=60)
    ap.add_argument("--max-p99-ms", type=int, default=0,
                    help="count keystroke echo p99 under load against this bound (default: "
                         "reported only; on a shared 2-core machine it measures CPU contention)")
    ap.add_argument("--max-session-kib", type=int, default=8192,
                    help="gateway peak RSS bound per streaming session (SPEC: a few MiB per "
                         "channel direction)")
    ap.add_argument("--flood-connections", type=int,
                    help="stalled connections per flood, half silent TCP, half banner (2000)")
    ap.add_argument("--flood-sources", type=int, default=250)
    ap.add_argument("--flood-rate", type=int, default=1000, help="new connections per second")
    ap.add_argument("--flood-login-bound", type=int, default=15,
                    help="seconds a real user may need to log in during a flood")
    ap.add_argument("--flood-hold", type=float,
                    help="seconds the many-source flood lasts at least (40: past the 30 s "
                         "login grace time)")
    ap.add_argument("--flood-max-rss-kib", type=int, default=65536,
                    help="gateway RSS growth bound while flooded")
    ap.add_argument("--strict-flood", action="store_true", default=True,
                    help="count the many-source flood's login against the bound (the default)")
    ap.add_argument("--lenient-flood", dest="strict_flood", action="store_false",
                    help="only report the many-source flood's login")
    ap.add_argument("--only", default="load,flood", help="phases: load, flood")
    ap.add_argument("--target-mode", choices=("portcullis", "direct"), default="portcullis",
                    help="direct: the load phase straight to the target sshd, for comparison "
                         "(no gateway in the path; its figures are then the idle gateway's)")
    ap.add_argument("--timeout", type=int, help="global deadline in seconds")
    ap.add_argument("--json-out", help="write the raw figures as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, state)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--gateway-log-level", default="info")
    ap.add_argument("--gateway-ini", action="append", default=[], metavar="LINE",
                    help="a line added to portcullisd's INI file after [server] log_level "
                         "(e.g. 'threads = 4', or '[limits]' then 'buffer_high_watermark = ...')")
    ap.add_argument("--gateway-autogroup-nice", type=int, default=-10, metavar="N",
                    help="nice value of portcullisd's scheduler autogroup (default -10). With "
                         "Linux sched_autogroup every session (each ssh client, each target "
                         "sshd session here) weighs as much as the whole gateway, which on its "
                         "own host would not share its CPUs with them; 0 measures that")
    ap.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--portcullisd", default=os.environ.get(
        "PORTCULLISD", os.path.join(TOP, "build", "gateway", "portcullisd")))
    ap.add_argument("--cli", default=os.environ.get(
        "PORTCULLIS_CLI", os.path.join(TOP, "build", "admin_cli", "portcullis")))
    a = ap.parse_args()
    q = a.quick
    a.sessions = a.sessions or (40 if q else 200)
    a.duration = a.duration or (15.0 if q else 60.0)
    a.flood_connections = a.flood_connections or (1000 if q else 2000)
    a.flood_hold = a.flood_hold if a.flood_hold is not None else (6.0 if q else 40.0)
    a.baseline_keystrokes = a.baseline_keystrokes or (100 if q else 200)
    a.timeout = a.timeout or (150 if q else 1200)
    a.only = set(a.only.split(","))
    if a.target_mode == "direct":
        a.only.discard("flood")
    a.accounts = a.sessions + a.pty_sessions + 25
    return a


def main():
    a = parse()
    for tool in (a.portcullisd, a.cli):
        if not os.access(tool, os.X_OK):
            log("not executable: %s (build first, or set PORTCULLISD / PORTCULLIS_CLI)" % tool)
            return 1
    rig = LoadRig(a)
    rig.a.accounts = a.accounts

    pb.arm_deadline(a.timeout)
    started = time.time()
    R = {"config": pb.options_record(a), "load_before": loadavg(), "nproc": os.cpu_count()}
    rc = 0
    try:
        rig.setup_load(a.accounts)
        if "load" in a.only:
            pattern = random.Random(a.seed).randbytes(PATTERN_LEN)
            R["load"] = Load(rig, a, pattern).run()
            active = rig.cli("session", "list", "--active", "--limit", "100000", json_out=True)
            R["load"]["active_after"] = len(active)
            # Session ends are written by the store workers: give them a moment.
            end = time.monotonic() + 15
            while R["load"]["active_after"] and time.monotonic() < end:
                time.sleep(1)
                R["load"]["active_after"] = len(rig.cli("session", "list", "--active",
                                                        "--limit", "100000", json_out=True))
            R["load"]["audit_verify"] = rig.run([a.cli, "--state-dir", rig.state, "audit",
                                                 "verify"], check=False).returncode
        if "flood" in a.only:
            half = a.flood_connections // 2
            # One source: the per-source cap (10) keeps it from the global one (100).
            R["flood_one_source"] = rig.flood_phase(
                "one source", [("127.0.100.1", "tcp", half), ("127.0.100.1", "banner", half)],
                "127.0.0.1", a.flood_login_bound, settle=3.0, hold=min(a.flood_hold, 10.0))
            # Many sources, each under the per-source cap: together past the global cap.
            n = a.flood_sources
            per = max(1, a.flood_connections // n // 2)
            plan = []
            for i in range(n):
                src = "127.0.%d.%d" % (101 + i // 250, 1 + i % 250)
                plan += [(src, "tcp", per), (src, "banner", per)]
            R["flood_many_sources"] = rig.flood_phase(
                "%d sources" % n, plan, "127.0.0.1", max(a.flood_login_bound, a.flood_hold),
                settle=3.0, hold=a.flood_hold)
    except Deadline:
        log("global deadline of %d s reached" % a.timeout)
        rc = 1
    except (BenchError, subprocess.TimeoutExpired, TimeoutError, EOFError, OSError) as e:
        log("FAILED: %s" % e)
        rc = 1
    except KeyboardInterrupt:
        log("interrupted")
        rc = 1
    finally:
        signal.alarm(0)
        R["gateway_autogroup"] = getattr(rig, "autogroup", None)
        gw = getattr(rig, "gw", None)
        if gw is not None and gw.poll() is None:
            R["gateway_cpu_total_s"] = pb.cpu_ticks(gw.pid) / rig.ticks
            R["gateway_hwm_total_kib"] = status_kib(gw.pid, "VmHWM")
        if rc != 0 and rig.tmp:
            log("portcullisd log tail:\n" + rig.tail(os.path.join(rig.tmp, "portcullisd.log")))
        try:
            rig.cleanup()
        except Exception as e:  # noqa: BLE001 (cleanup must not hide the result)
            log("cleanup: %s" % e)
    R["load_after"] = loadavg()
    R["elapsed_s"] = time.time() - started
    text, ok = report(R, a)
    print("Portcullis load test, %s, %d cores, load average before %s / after %s, %.0f s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), os.cpu_count(),
        R["load_before"], R["load_after"], R["elapsed_s"]))
    print("portcullisd scheduler autogroup: %s" % R.get("gateway_autogroup"))
    return pb.print_verdict(R, text, ok, rc, a.json_out)


if __name__ == "__main__":
    sys.exit(main())
