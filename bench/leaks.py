#!/usr/bin/python3
"""Memory and leak checks of portcullisd, with a pass/fail verdict.

Same loopback setup as bench/run and bench/load (a target sshd, portcullisd with a temp
state directory, accounts with key + TOTP made with the admin CLI, the stock ssh client).

  growth    1000 short sessions (a mix: exec, upload, download, pty, a wrong code, an
            unknown target, a client killed mid-session), a few at a time: the gateway's
            VmRSS, open descriptors and threads after the first 100 and after all 1000.
  valgrind  a fresh portcullisd under valgrind memcheck (--leak-check=full) serves one of
            each kind of session, then SIGTERM while one session is still live; the run
            must show no memory error and no definite leak (bench/valgrind.supp holds the
            suppressions for third-party code, each explained there).

Exit status: 0 when every criterion passed, 1 otherwise. See docs/RELIABILITY.md.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import portcullis_bench as pb  # noqa: E402
from portcullis_bench import BenchError, Deadline, log, loadavg  # noqa: E402

KINDS = ("exec", "upload", "download", "pty", "wrong_code", "unknown_target", "client_killed")


class LeakRig(pb.Bench):
    def setup_leaks(self, accounts):
        self.setup_base()
        self.tport, hostkey = self.start_sshd("target", [self.client_pub, self.upstream_pub])
        self.setup_store(hostkey, accounts)
        # Wrong codes go to accounts of their own (they lock after 5 failures) and come
        # from sources of their own (20 failures from one address throttle it).
        self.wrong = [self.make_account(9000 + i)[0] for i in range(5)]
        self.wrong_count = 0
        self.start_gateway()
        self.write_client_config()
        self.lock = threading.Lock()

    def locked_ssh(self, extra=(), user_suffix=":box", code=None):
        """(argv, env) through the gateway; acquire() is not thread-safe."""
        with self.lock:
            name, good = self.acquire()
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        env.update(SSH_ASKPASS=self.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY="none",
                   BENCH_CODE=code or good)
        return (["ssh", "-F", self.sshcfg] + list(extra) + self.identity(name) +
                ["-l", name + user_suffix, "gw"], env)

    def session(self, kind, timeout=60):
        """One session of KIND; returns None when it behaved as expected, else why not."""
        def run(argv, env, **kw):
            return subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                                  start_new_session=True, **kw)
        if kind == "exec":
            argv, env = self.locked_ssh()
            r = run(argv + ["echo leak-$((6*7))"], env, stdin=subprocess.DEVNULL)
            ok = r.returncode == 0 and r.stdout == b"leak-42\n"
        elif kind == "upload":
            argv, env = self.locked_ssh()
            r = run(argv + ["wc -c"], env, input=os.urandom(262144))
            ok = r.returncode == 0 and r.stdout.strip() == b"262144"
        elif kind == "download":
            argv, env = self.locked_ssh()
            r = run(argv + ["head -c 262144 /dev/urandom"], env, stdin=subprocess.DEVNULL)
            ok = r.returncode == 0 and len(r.stdout) == 262144
        elif kind == "pty":
            argv, env = self.locked_ssh(["-tt"])
            r = run(argv + ["echo pty-ok; exit 3"], env, stdin=subprocess.DEVNULL)
            ok = r.returncode == 3 and b"pty-ok" in r.stdout
        elif kind == "wrong_code":
            with self.lock:
                self.wrong_count += 1
                n = self.wrong_count
            env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
            env.update(SSH_ASKPASS=self.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY="none",
                       BENCH_CODE="000000")
            argv = ["ssh", "-F", self.sshcfg, "-b", "127.0.%d.%d" % (9 + n // 250, 1 + n % 250),
                    "-l", self.wrong[n % len(self.wrong)] + ":box", "gw"]
            r = run(argv + ["echo must-not-run"], env, stdin=subprocess.DEVNULL)
            ok = r.returncode == 255 and b"must-not-run" not in r.stdout
        elif kind == "unknown_target":
            argv, env = self.locked_ssh(user_suffix=":nosuchbox")
            r = run(argv + ["echo must-not-run"], env, stdin=subprocess.DEVNULL)
            ok = r.returncode != 0 and b"must-not-run" not in r.stdout
        elif kind == "client_killed":
            argv, env = self.locked_ssh()
            p = subprocess.Popen(argv + ["echo up; sleep 60"], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
            try:
                line = b""
                end = time.monotonic() + timeout
                while b"up" not in line and time.monotonic() < end:
                    chunk = p.stdout.read1(64) if hasattr(p.stdout, "read1") else p.stdout.read(2)
                    if not chunk:
                        break
                    line += chunk
                ok = b"up" in line
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
                r = subprocess.CompletedProcess(argv, 0, line, p.stderr.read())
            finally:
                for f in (p.stdin, p.stdout, p.stderr):
                    f.close()
        else:
            raise ValueError(kind)
        if ok:
            return None
        return "%s: exit %s, out %r, err %r" % (kind, r.returncode, r.stdout[-200:],
                                                 r.stderr[-300:])

    def snapshot(self, pid):
        st = pb.proc_status(pid)
        return {"rss_kib": int(st["VmRSS"].split()[0]), "hwm_kib": int(st["VmHWM"].split()[0]),
                "fds": len(os.listdir("/proc/%d/fd" % pid)), "threads": int(st["Threads"])}

    def settle(self, pid, seconds):
        """Waits for lingering connections to go (at most 5 s after their channels closed)
        and for the store workers' queue, then snapshots."""
        time.sleep(seconds)
        return self.snapshot(pid)

    def growth(self):
        a = self.a
        pid = self.gw.pid
        res = {"sessions": a.sessions, "parallel": a.parallel, "failures": []}
        kinds = [KINDS[i % len(KINDS)] for i in range(a.sessions)]
        done = 0
        t0 = time.monotonic()

        def one(kind):
            return self.session(kind)
        # Readings after the warm-up, then at every quarter of the rest: a leak grows
        # steadily, a cache (SQLite's page cache, malloc's arenas) levels off.
        w = min(a.warmup, a.sessions)
        marks = sorted({w, a.sessions} | {w + (a.sessions - w) * k // 4 for k in (1, 2, 3)})
        with concurrent.futures.ThreadPoolExecutor(max_workers=a.parallel) as ex:
            for mark in marks:
                batch = kinds[done:mark]
                for why in ex.map(one, batch):
                    if why:
                        res["failures"].append(why)
                done = mark
                snap = self.settle(pid, 8)
                snap["elapsed_s"] = time.monotonic() - t0
                res["after_%d" % mark] = snap
                log("growth: after %d sessions: VmRSS %d KiB, VmHWM %d KiB, %d fds, %d threads, "
                    "%d failures (%.0f s, load %s)" % (mark, snap["rss_kib"], snap["hwm_kib"],
                                                       snap["fds"], snap["threads"],
                                                       len(res["failures"]), snap["elapsed_s"],
                                                       loadavg()))
        first = res["after_%d" % marks[0]]
        last = res["after_%d" % marks[-1]]
        res["rss_growth_kib"] = last["rss_kib"] - first["rss_kib"]
        res["fd_growth"] = last["fds"] - first["fds"]
        res["thread_growth"] = last["threads"] - first["threads"]
        res["per_session_b"] = res["rss_growth_kib"] * 1024.0 / max(1, marks[-1] - marks[0])
        half = marks[len(marks) // 2]
        res["second_half_growth_kib"] = last["rss_kib"] - res["after_%d" % half]["rss_kib"]
        res["curve"] = [(m, res["after_%d" % m]["rss_kib"]) for m in marks]
        active = self.cli("session", "list", "--active", json_out=True)
        res["active_after"] = len(active)
        return res

    def valgrind(self):
        a = self.a
        # One daemon per state directory: stop the measured one first.
        self.gw.terminate()
        self.gw.wait(timeout=20)
        self.procs = [(n, p) for n, p in self.procs if p is not self.gw]
        vlog = os.path.join(self.tmp, "valgrind.log")
        argv = ["valgrind", "--tool=memcheck", "--leak-check=full",
                "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite",
                "--num-callers=40", "--log-file=" + vlog]
        supp = os.path.join(HERE, "valgrind.supp")
        if os.path.exists(supp):
            argv.append("--suppressions=" + supp)
        lf = open(os.path.join(self.tmp, "portcullisd-valgrind.log"), "ab")
        p = subprocess.Popen(argv + self.gw_argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                             start_new_session=True)
        lf.close()
        self.procs.append(("portcullisd-valgrind", p))
        self.gw = p
        if not pb.wait_port(self.gport, 120, p):
            raise BenchError("portcullisd under valgrind did not start: %s" % self.tail(vlog))
        res = {"failures": []}
        log("valgrind: portcullisd up; one session of each kind ...")
        for kind in KINDS * a.valgrind_rounds:
            why = self.session(kind, timeout=120)
            if why:
                res["failures"].append(why)
        # SIGTERM while a session is live: the drain path too.
        argv_live, env = self.locked_ssh()
        live = subprocess.Popen(argv_live + ["echo up; sleep 60"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.clients.append(live)
        up = live.stdout.readline()
        res["live_at_sigterm"] = up.strip() == b"up"
        time.sleep(2)
        p.send_signal(signal.SIGTERM)
        try:
            res["exit_code"] = p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            res["exit_code"] = "timeout"
            p.kill()
            p.wait()
        self.close_clients([live])
        with open(vlog, errors="replace") as f:
            text = f.read()
        res["log"] = vlog
        m = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)
        res["errors"] = int(m[-1].replace(",", "")) if m else None

        def kind_bytes(kind):
            m = re.findall(r"%s lost: ([\d,]+) bytes in ([\d,]+) blocks" % kind, text)
            return int(m[-1][0].replace(",", "")) if m else 0
        res["definitely_lost_b"] = kind_bytes("definitely")
        res["indirectly_lost_b"] = kind_bytes("indirectly")
        res["possibly_lost_b"] = kind_bytes("possibly")
        m = re.findall(r"still reachable: ([\d,]+) bytes", text)
        res["still_reachable_b"] = int(m[-1].replace(",", "")) if m else 0
        m = re.findall(r"suppressed: ([\d,]+) bytes in ([\d,]+) blocks", text)
        res["suppressed_b"] = int(m[-1][0].replace(",", "")) if m else 0
        # The first records, for the report.
        res["records"] = re.findall(r"==\d+== ((?:Invalid|Conditional|Use of|Syscall param|"
                                    r"Mismatched|[\d,]+ (?:\([\d,]+ direct, [\d,]+ indirect\) )?"
                                    r"bytes in [\d,]+ blocks are definitely).*)", text)[:10]
        log("valgrind: %s errors, definitely lost %d B, indirectly %d B, possibly %d B, "
            "still reachable %d B, suppressed %d B; exit %s" % (
                res["errors"], res["definitely_lost_b"], res["indirectly_lost_b"],
                res["possibly_lost_b"], res["still_reachable_b"], res["suppressed_b"],
                res["exit_code"]))
        return res


def report(R, a):
    rows = []

    def row(name, figure, bound, ok):
        rows.append((name, str(figure), bound, "pass" if ok else "FAIL"))
    lines = []
    if "growth" in R:
        G = R["growth"]
        first = G["after_%d" % min(a.warmup, a.sessions)]
        last = G["after_%d" % a.sessions]
        lines.append("growth: %d sessions (%s), %d at a time; after %d / after %d: VmRSS %d / %d "
                     "KiB, VmHWM %d / %d KiB, fds %d / %d, threads %d / %d" % (
                         a.sessions, ", ".join(KINDS), a.parallel, min(a.warmup, a.sessions),
                         a.sessions, first["rss_kib"], last["rss_kib"], first["hwm_kib"],
                         last["hwm_kib"], first["fds"], last["fds"], first["threads"],
                         last["threads"]))
        row("sessions that misbehaved", len(G["failures"]), "0", not G["failures"])
        row("VmRSS growth KiB, after %d to after %d" % (min(a.warmup, a.sessions), a.sessions),
            "%+d (%.0f B/session)" % (G["rss_growth_kib"], G["per_session_b"]),
            "<= %d" % a.max_growth_kib, G["rss_growth_kib"] <= a.max_growth_kib)
        lines.append("  VmRSS KiB by sessions served: " + ", ".join("%d: %d" % c for c in G["curve"]))
        row("open descriptors growth", "%+d" % G["fd_growth"], "<= 0", G["fd_growth"] <= 0)
        row("threads growth", "%+d" % G["thread_growth"], "0", G["thread_growth"] == 0)
        row("sessions left active in the store", G["active_after"], "0", G["active_after"] == 0)
        for f in G["failures"][:5]:
            lines.append("  " + f)
    if "valgrind" in R:
        V = R["valgrind"]
        lines.append("valgrind: %d sessions + SIGTERM with one live; definitely lost %d B, "
                     "indirectly %d B, possibly %d B, still reachable %d B, suppressed %d B "
                     "(log %s)" % (len(KINDS) * a.valgrind_rounds, V["definitely_lost_b"],
                                   V["indirectly_lost_b"], V["possibly_lost_b"],
                                   V["still_reachable_b"], V["suppressed_b"], V["log"]))
        row("valgrind: sessions that misbehaved", len(V["failures"]), "0", not V["failures"])
        row("valgrind: memory errors + definite leaks (ERROR SUMMARY)", V["errors"], "0",
            V["errors"] == 0)
        row("valgrind: definitely + indirectly lost bytes",
            V["definitely_lost_b"] + V["indirectly_lost_b"], "0",
            V["definitely_lost_b"] + V["indirectly_lost_b"] == 0)
        row("valgrind: clean exit on SIGTERM", V["exit_code"], "0", V["exit_code"] == 0)
        for rec in V["records"]:
            lines.append("  " + rec)
        for f in V["failures"][:5]:
            lines.append("  " + f)
    head = ("criterion", "figure", "bound", "")
    table = [head] + rows
    widths = [max(len(r[c]) for r in table) for c in range(4)]
    for i, r in enumerate(table):
        lines.append("  ".join(v.ljust(widths[c]) for c, v in enumerate(r)).rstrip())
        if i == 0:
            lines.append("-" * len(lines[-1]))
    return "\n".join(lines), bool(rows) and all(r[3] == "pass" for r in rows)


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 sessions, one valgrind round")
    ap.add_argument("--sessions", type=int, help="sessions in the growth phase (1000)")
    ap.add_argument("--warmup", type=int, default=100, help="the first RSS reading after this many")
    ap.add_argument("--parallel", type=int, default=4, help="sessions at a time (1: sequential)")
    ap.add_argument("--max-growth-kib", type=int, default=4096,
                    help="VmRSS growth allowed from the warm-up reading to the last")
    ap.add_argument("--valgrind-rounds", type=int, help="sessions of each kind under valgrind")
    ap.add_argument("--only", default="growth,valgrind", help="phases: growth, valgrind")
    ap.add_argument("--timeout", type=int, help="global deadline in seconds")
    ap.add_argument("--json-out")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, valgrind log)")
    ap.add_argument("--gateway-log-level", default="info")
    ap.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--portcullisd", default=os.environ.get(
        "PORTCULLISD", os.path.join(TOP, "build", "gateway", "portcullisd")))
    ap.add_argument("--cli", default=os.environ.get(
        "PORTCULLIS_CLI", os.path.join(TOP, "build", "admin_cli", "portcullis")))
    a = ap.parse_args()
    a.sessions = a.sessions or (200 if a.quick else 1000)
    a.valgrind_rounds = a.valgrind_rounds or (1 if a.quick else 2)
    a.timeout = a.timeout or (900 if a.quick else 2400)
    a.only = set(a.only.split(","))
    # Logins per TOTP step: a few a second for 30 s.
    a.accounts = 200 if "growth" in a.only else 30
    return a


def main():
    a = parse()
    for tool in (a.portcullisd, a.cli):
        if not os.access(tool, os.X_OK):
            log("not executable: %s (build first, or set PORTCULLISD / PORTCULLIS_CLI)" % tool)
            return 1
    if "valgrind" in a.only and not shutil.which("valgrind"):
        log("valgrind is not installed (scripts/deps installs it)")
        return 1
    rig = LeakRig(a)

    pb.arm_deadline(a.timeout)
    started = time.time()
    R = {"config": pb.options_record(a), "load_before": loadavg()}
    rc = 0
    try:
        rig.setup_leaks(a.accounts)
        if "growth" in a.only:
            R["growth"] = rig.growth()
        if "valgrind" in a.only:
            R["valgrind"] = rig.valgrind()
    except Deadline:
        log("global deadline of %d s reached" % a.timeout)
        rc = 1
    except (BenchError, subprocess.TimeoutExpired, TimeoutError, OSError) as e:
        log("FAILED: %s" % e)
        rc = 1
    except KeyboardInterrupt:
        log("interrupted")
        rc = 1
    finally:
        signal.alarm(0)
        if rc != 0 and rig.tmp:
            log("portcullisd log tail:\n" + rig.tail(os.path.join(rig.tmp, "portcullisd.log")))
        if "valgrind" in R and not a.keep and rig.tmp:
            # Keep the valgrind log next to the JSON, not in the removed temp dir.
            keep = (a.json_out or "/tmp/portcullis-leaks") + ".valgrind.log"
            shutil.copy(R["valgrind"]["log"], keep)
            R["valgrind"]["log"] = keep
        try:
            rig.cleanup()
        except Exception as e:  # noqa: BLE001
            log("cleanup: %s" % e)
    R["load_after"] = loadavg()
    R["elapsed_s"] = time.time() - started
    text, ok = report(R, a)
    print("Portcullis memory and leak checks, %s, %d cores, load average before %s / after %s, "
          "%.0f s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), os.cpu_count(),
                      R["load_before"], R["load_after"], R["elapsed_s"]))
    return pb.print_verdict(R, text, ok, rc, a.json_out)


if __name__ == "__main__":
    sys.exit(main())
