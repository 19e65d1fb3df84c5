#!/usr/bin/python3
"""Side-by-side benchmark: OpenSSH direct, OpenSSH ProxyJump, Portcullis.

Everything runs on loopback: a target sshd, a second sshd as jump host and
portcullisd with a temporary state directory, all started here and stopped on
exit (also on error, Ctrl-C or the global deadline). See bench/README.md.
Exit status: 0 when every measurement ran (targets met or not, unless
--strict), 1 when the setup or a measurement failed, 3 with --strict when a
target is missed.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, HERE)
import echo_latency  # noqa: E402

MODES = ("direct", "proxyjump", "portcullis")
LABEL = {"direct": "OpenSSH direct", "proxyjump": "OpenSSH ProxyJump", "portcullis": "Portcullis"}


class BenchError(Exception):
    pass


class Deadline(BaseException):
    pass


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def arm_deadline(seconds):
    """After `seconds`, SIGALRM raises Deadline; SIGTERM raises KeyboardInterrupt, so that
    a run that is stopped or too slow still cleans up what it started."""
    def on_alarm(signum, frame):
        raise Deadline()

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(seconds)


def options_record(a):
    """The command-line options as they go into a results file."""
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(a).items()}


def print_verdict(R, text, ok, rc, json_out):
    """Prints the criteria table and the RESULT line, writes R to json_out; the exit status."""
    print(text)
    R["passed"] = ok and rc == 0
    if json_out:
        with open(json_out, "w") as f:
            json.dump(R, f, indent=1, default=str)
    print("RESULT: %s" % ("PASS" if R["passed"] else "FAIL"))
    return 0 if R["passed"] else 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = digest[-1] & 15
    value = struct.unpack(">I", digest[off:off + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1000000)


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def rss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def descendants(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


class Bench:
    def __init__(self, args):
        self.a = args
        self.procs = []  # long-lived daemons: (name, Popen)
        self.clients = []  # idle-session clients
        self.tmp = None
        self.results = {"config": {}, "machine": {}}
        self.accounts = []  # [name, secret, last_step]
        self.ticks = os.sysconf("SC_CLK_TCK")

    # ---------- processes -------------------------------------------------
    def run(self, argv, timeout=60, check=True, env=None, input=None):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise BenchError("%s failed (%d): %s %s" % (shlex.join(argv), r.returncode,
                                                         r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def cli(self, *args, json_out=False):
        argv = [self.a.cli, "--state-dir", self.state]
        if json_out:
            argv.append("--json")
        r = self.run(argv + list(args))
        return json.loads(r.stdout) if json_out else r.stdout

    def start_daemon(self, name, argv, port, logfile):
        lf = open(logfile, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                             start_new_session=True)
        lf.close()
        self.procs.append((name, p))
        if not wait_port(port, 15, p):
            raise BenchError("%s did not start on port %d; log:\n%s" % (name, port,
                                                                      self.tail(logfile)))
        return p

    def tail(self, path, n=3000):
        try:
            with open(path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return "(no log)"

    def close_clients(self, clients):
        for p in clients:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 10
        for p in clients:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
            for f in (p.stdin, p.stdout):
                if f:
                    f.close()

    def cleanup(self):
        self.close_clients(self.clients)
        self.clients = []
        for name, p in reversed(self.procs):
            if p.poll() is not None:
                continue
            kids = descendants(p.pid)
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for k in kids:  # per-connection sshd processes left behind
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.procs = []
        if self.tmp and not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            log("kept %s" % self.tmp)

    # ---------- setup -----------------------------------------------------
    def keygen(self, path):
        self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", path])
        with open(path + ".pub") as f:
            return f.read().strip()

    def start_sshd(self, name, authorized):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        host = os.path.join(d, "ssh_host_ed25519_key")
        pub = self.keygen(host)
        with open(os.path.join(d, "authorized_keys"), "w") as f:
            f.write("\n".join(authorized) + "\n")
        port = free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "Port %d" % port, "ListenAddress 127.0.0.1", "HostKey " + host,
                "PidFile " + os.path.join(d, "sshd.pid"),
                "AuthorizedKeysFile " + os.path.join(d, "authorized_keys"),
                "UsePAM no", "StrictModes no", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes", "MaxStartups 2000", "MaxSessions 100",
                "LogLevel INFO", "Subsystem sftp /usr/lib/openssh/sftp-server", ""]))
        self.start_daemon("sshd-" + name, ["/usr/sbin/sshd", "-D", "-e", "-f", cfg], port,
                          os.path.join(d, "sshd.log"))
        return port, " ".join(pub.split()[:2])

    def make_account(self, i):
        name = "bench%04d" % i
        self.cli("user", "add", name)
        # One key per person: the store refuses a key another account holds.
        self.keygen(self.account_key(name))
        self.cli("user", "key", "add", name, "--file", self.account_key(name) + ".pub")
        secret = self.cli("user", "totp", "enroll", name, json_out=True)["secret"]
        self.cli("group", "add-member", "bench", name)
        return [name, secret, -1]

    def account_key(self, name):
        return os.path.join(self.tmp, "key-" + name)

    def identity(self, name):
        """ssh options presenting NAME's own key first (before the config's client key)."""
        return ["-i", self.account_key(name)]

    def setup(self):
        self.setup_base()
        self.tport, target_hostkey = self.start_sshd("target",
                                                     [self.client_pub, self.upstream_pub])
        self.jport, _ = self.start_sshd("jump", [self.client_pub])
        self.setup_store(target_hostkey, self.a.accounts)
        self.start_gateway()
        self.write_client_config()

    def setup_base(self):
        """Temp dir, client key, `portcullis init` (state dir with the gateway's keys)."""
        self.tmp = tempfile.mkdtemp(prefix="portcullis-bench.")
        os.chmod(self.tmp, 0o755)
        os.makedirs("/run/sshd", exist_ok=True)
        log("temp dir %s" % self.tmp)
        self.client_key = os.path.join(self.tmp, "client_key")
        self.client_pub = self.keygen(self.client_key)
        self.state = os.path.join(self.tmp, "state")
        self.cli("init")
        with open(os.path.join(self.state, "keys", "upstream_ed25519.pub")) as f:
            self.upstream_pub = f.read().strip()

    def setup_store(self, target_hostkey, n):
        """Target `box` (the sshd on self.tport), group @bench granted on it, N accounts."""
        self.cli("target", "add", "box", "--host", "127.0.0.1", "--port", str(self.tport),
                 "--login", "root", "--host-key", target_hostkey)
        self.cli("group", "add", "bench")
        self.cli("grant", "@bench", "box", "--allow", "shell,exec", "--max-session", "8h",
                 "--idle-timeout", "8h", "--reason", "benchmark")
        log("creating %d accounts (key + TOTP) ..." % n)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
            self.accounts = list(ex.map(self.make_account, range(1, n + 1)))
        log("accounts ready in %.1f s" % (time.monotonic() - t0))

    def start_gateway(self, extra_ini=""):
        """portcullisd with its defaults (pre-auth caps included) and the chosen log level."""
        self.gport = free_port()
        ini = os.path.join(self.tmp, "portcullisd.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlog_level = %s\n" % self.a.gateway_log_level + extra_ini)
        self.gw_argv = [self.a.portcullisd, "--state-dir", self.state, "--listen",
                        "127.0.0.1:%d" % self.gport, "--config", ini]
        self.gw = self.start_daemon("portcullisd", self.gw_argv, self.gport,
                                    os.path.join(self.tmp, "portcullisd.log"))

    def write_client_config(self):
        """askpass script (answers $BENCH_CODE) and an ssh_config with one Host per mode."""
        self.askpass = os.path.join(self.tmp, "askpass")
        with open(self.askpass, "w") as f:
            f.write("#!/bin/sh\nprintf '%s\\n' \"$BENCH_CODE\"\n")
        os.chmod(self.askpass, 0o700)
        self.sshcfg = os.path.join(self.tmp, "ssh_config")
        common = ["  HostName 127.0.0.1", "  IdentityFile " + self.client_key,
                  "  IdentitiesOnly yes", "  IdentityAgent none",
                  "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null",
                  "  LogLevel ERROR", "  ConnectTimeout 20", "  ControlMaster no",
                  "  ControlPath none", "  ForwardAgent no", "  ForwardX11 no"] + [
                      "  " + o.replace("=", " ", 1) for o in self.a.ssh_option]
        lines = ["Host direct", "  Port %d" % self.tport, "  User root", "  BatchMode yes"] + common
        if getattr(self, "jport", None):
            lines += (["Host jump", "  Port %d" % self.jport, "  User root", "  BatchMode yes"] +
                      common +
                      ["Host viajump", "  Port %d" % self.tport, "  User root", "  BatchMode yes",
                       "  ProxyJump jump"] + common)
        lines += ["Host gw", "  Port %d" % self.gport, "  BatchMode no",
                  "  PreferredAuthentications publickey,keyboard-interactive",
                  "  NumberOfPasswordPrompts 1"] + common
        with open(self.sshcfg, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---------- ssh invocations -------------------------------------------
    def acquire(self):
        """An account whose TOTP step is unused, with its code (codes are single-use per step)."""
        while True:
            step = int(time.time() // 30)
            for acc in self.accounts:
                if acc[2] < step:
                    acc[2] = step
                    return acc[0], totp(acc[1], step)
            wait = 30 - time.time() % 30 + 0.2
            log("all %d accounts used in this TOTP step; waiting %.0f s" % (len(self.accounts),
                                                                           wait))
            time.sleep(wait)

    def ssh(self, mode, extra=()):
        """(argv, env) for one ssh connection in MODE, without the remote command."""
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        argv = ["ssh", "-F", self.sshcfg] + list(extra)
        if mode == "direct":
            argv.append("direct")
        elif mode == "proxyjump":
            argv.append("viajump")
        else:
            name, code = self.acquire()
            argv += self.identity(name) + ["-l", name + ":box", "gw"]
            env.update(SSH_ASKPASS=self.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY="none",
                       BENCH_CODE=code)
        return argv, env

    def sh(self, mode, pipeline_fmt, command, timeout):
        """Runs `bash -c pipeline` where {ssh} is the ssh command line; returns seconds."""
        argv, env = self.ssh(mode)
        line = "set -o pipefail; " + pipeline_fmt.format(ssh=shlex.join(argv + [command]))
        t0 = time.monotonic()
        r = subprocess.run(["bash", "-c", line], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           start_new_session=True)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            raise BenchError("%s: %s exited %d: %s" % (mode, line, r.returncode,
                                                      r.stderr.decode(errors="replace")[-1500:]))
        return dt, r.stdout.decode(errors="replace")

    # ---------- phases ----------------------------------------------------
    def sanity(self):
        log("sanity checks ...")
        step = int(time.time() // 30)
        if shutil.which("oathtool"):
            r = self.run(["oathtool", "--totp", "-b", self.accounts[0][1]])
            mine = {totp(self.accounts[0][1], s) for s in (step - 1, step, step + 1)}
            if r.stdout.strip() not in mine:
                raise BenchError("TOTP code mismatch with oathtool")
        ciphers, kex = {}, {}
        for mode in MODES:
            _, out = self.sh(mode, "{ssh}", "echo ok-$((6*7))", 60)
            if "ok-42" not in out:
                raise BenchError("%s: unexpected output %r" % (mode, out))
            _, out = self.sh(mode, "head -c 1048576 /dev/zero | {ssh}", "wc -c", 60)
            if out.strip() != "1048576":
                raise BenchError("%s: upload check got %r" % (mode, out))
            _, out = self.sh(mode, "{ssh} | wc -c", "head -c 1048576 /dev/zero", 60)
            if out.strip() != "1048576":
                raise BenchError("%s: download check got %r" % (mode, out))
            argv, env = self.ssh(mode, ["-v"])
            r = subprocess.run(argv + ["true"], env=env, capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL, start_new_session=True)
            ciphers[mode] = sorted(set(
                line.split("cipher:")[1].split()[0] for line in r.stderr.splitlines()
                if "kex: server->client cipher:" in line))
            kex[mode] = sorted(set(line.split("kex: algorithm:")[1].strip()
                                   for line in r.stderr.splitlines()
                                   if "kex: algorithm:" in line))
        self.results["ciphers"] = ciphers
        self.results["kex"] = kex

    def throughput(self):
        size = self.a.size_mib
        res = {m: {"upload": [], "download": []} for m in MODES}
        timeout = 60 + size / 5.0
        for rep in range(self.a.reps):
            for mode in MODES:
                dt, _ = self.sh(mode, "head -c %dM /dev/zero | {ssh}" % size, "cat >/dev/null",
                                timeout)
                res[mode]["upload"].append(size / dt)
                dt, _ = self.sh(mode, "{ssh} > /dev/null", "head -c %dM /dev/zero" % size,
                                timeout)
                res[mode]["download"].append(size / dt)
                log("throughput rep %d %-10s up %6.1f down %6.1f MiB/s" % (
                    rep + 1, mode, res[mode]["upload"][-1], res[mode]["download"][-1]))
        self.results["throughput"] = res

    def floor(self):
        """CPU per GiB relayed against the work that cannot be avoided (issue 15): the
        client's cipher decrypted, the target's encrypted, SHA-256 of the recording, each
        measured here with `openssl speed` (CPU time, so it holds on a busy machine)."""
        size = self.a.size_mib
        ciphers = self.results.get("ciphers", {}).get("portcullis") or ["chacha20-poly1305@openssh.com"]
        evp = {"chacha20-poly1305@openssh.com": "chacha20-poly1305",
               "aes256-gcm@openssh.com": "aes-256-gcm", "aes128-gcm@openssh.com": "aes-128-gcm"}

        def speed(alg):
            r = self.run(["openssl", "speed", "-evp", alg, "-bytes", "16384", "-seconds", "2"],
                         timeout=30)
            kbytes = float(r.stdout.strip().splitlines()[-1].split()[-1].rstrip("k"))
            return 1024.0 ** 3 / (kbytes * 1000.0)  # CPU seconds per GiB
        client = speed(evp.get(ciphers[0], "chacha20-poly1305"))
        # The gateway's own client session to the target negotiates libssh's
        # default order, whose first AEAD cipher is chacha20-poly1305.
        upstream = speed("chacha20-poly1305")
        digest = speed("sha256")
        floor = client + upstream + digest
        res = {"floor_s_per_gib": floor, "decrypt_s_per_gib": client,
               "encrypt_s_per_gib": upstream, "sha256_s_per_gib": digest}
        gwpid = self.gw.pid
        for d, fmt, cmd in (("upload", "head -c %dM /dev/zero | {ssh}" % size, "cat >/dev/null"),
                            ("download", "{ssh} > /dev/null", "head -c %dM /dev/zero" % size)):
            c0 = cpu_ticks(gwpid)
            self.sh("portcullis", fmt, cmd, 60 + size / 5.0)
            cpu = (cpu_ticks(gwpid) - c0) / self.ticks
            res[d + "_cpu_s_per_gib"] = cpu * 1024.0 / size
            log("floor %-8s gateway %.2f s CPU/GiB, floor %.2f s/GiB, ratio %.2fx" % (
                d, res[d + "_cpu_s_per_gib"], floor, res[d + "_cpu_s_per_gib"] / floor))
        self.results["floor"] = res

    def ttfc(self):
        res = {m: [] for m in MODES}
        for i in range(self.a.ttfc_n):
            for mode in MODES:
                argv, env = self.ssh(mode)
                t0 = time.monotonic()
                r = subprocess.run(argv + ["true"], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
                                   start_new_session=True)
                dt = (time.monotonic() - t0) * 1000
                if r.returncode != 0:
                    raise BenchError("%s: ssh true exited %d: %s" % (mode, r.returncode,
                                                                    r.stderr[-1000:]))
                res[mode].append(dt)
        # The target's shell start is in every mode: the login shell run as sshd runs it
        # (bash sources ~/.bashrc when SSH_CLIENT is set).
        import pwd
        pw = pwd.getpwnam("root")
        shell_ms = []
        for _ in range(self.a.ttfc_n):
            t0 = time.monotonic()
            subprocess.run([pw.pw_shell, "-c", "true"], cwd=pw.pw_dir, stdin=subprocess.DEVNULL,
                           env={"HOME": pw.pw_dir, "USER": "root", "SHELL": pw.pw_shell,
                                "PATH": "/usr/local/bin:/usr/bin:/bin",
                                "SSH_CLIENT": "127.0.0.1 40000 22"}, check=True)
            shell_ms.append((time.monotonic() - t0) * 1000)
        self.results["target_shell_ms"] = shell_ms
        log("time to first command medians: " + ", ".join(
            "%s %.0f ms" % (m, median(v)) for m, v in res.items()))
        self.results["ttfc_ms"] = res

    def echo(self):
        res = {}
        for mode in MODES:
            argv, env = self.ssh(mode)
            res[mode] = echo_latency.measure(argv, self.a.echo_samples, self.a.echo_gap_ms, 30,
                                             env=env)
            log("echo %-10s p50 %.3f p99 %.3f ms" % (mode, res[mode]["p50_ms"],
                                                     res[mode]["p99_ms"]))
        self.results["echo"] = res

    def open_sessions(self, mode, count, errlog):
        """Opens COUNT idle exec sessions in batches, each one up before the next batch."""
        opened = []
        batch = self.a.batch
        t0 = time.monotonic()
        ef = open(errlog, "ab")
        try:
            while len(opened) < count:
                group = []
                for _ in range(min(batch, count - len(opened))):
                    argv, env = self.ssh(mode)
                    # `cat` on a stdin that stays open and silent: an idle session that ends
                    # with its connection (a `sleep` would outlive a killed sshd).
                    p = subprocess.Popen(argv + ["echo up; exec cat"], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=ef, start_new_session=True)
                    group.append(p)
                    self.clients.append(p)
                pending = {p.stdout.fileno(): p for p in group}
                bufs = {fd: b"" for fd in pending}
                end = time.monotonic() + 60
                while pending:
                    if time.monotonic() > end:
                        raise BenchError("%s: sessions not up within 60 s (%d open); see %s" % (
                            mode, len(opened), errlog))
                    r, _, _ = select.select(list(pending), [], [], 1.0)
                    for fd in r:
                        chunk = os.read(fd, 64)
                        if not chunk:
                            raise BenchError("%s: an ssh client exited before it was up after "
                                             "%d sessions; see %s:\n%s" % (
                                                 mode, len(opened), errlog, self.tail(errlog)))
                        bufs[fd] += chunk
                        if b"up" in bufs[fd]:
                            opened.append(pending.pop(fd))
        finally:
            ef.close()
        return opened, time.monotonic() - t0

    def cpu_window(self, pids, seconds):
        def total():
            t = 0
            for p in pids:
                try:
                    t += cpu_ticks(p)
                except OSError:
                    pass
            return t
        c0 = total()
        time.sleep(seconds)
        return (total() - c0) * 1000.0 / self.ticks / seconds  # CPU ms per second

    def restart_gateway(self):
        """A fresh portcullisd: memory freed by earlier phases stays in its heap and would be
        reused by the idle sessions, hiding their cost."""
        self.gw.terminate()
        self.gw.wait(timeout=15)
        self.procs = [(n, p) for n, p in self.procs if p is not self.gw]
        self.gw = self.start_daemon("portcullisd", self.gw_argv, self.gport,
                                    os.path.join(self.tmp, "portcullisd.log"))

    def idle(self):
        res = {"portcullis": [], "proxyjump": None}
        errlog = os.path.join(self.tmp, "idle-clients.log")
        self.restart_gateway()
        gwpid = self.gw.pid
        res["portcullis_fresh_rss_kib"] = rss_kib(gwpid)
        # Warm-up: one batch opened and closed (first-use allocations of every thread).
        warm, _ = self.open_sessions("portcullis", self.a.batch, errlog)
        self.close_clients(warm)
        self.clients = [p for p in self.clients if p not in warm]
        time.sleep(7)  # the gateway lingers up to 5 s after a connection's channels closed
        base = rss_kib(gwpid)
        base_cpu = self.cpu_window([gwpid], self.a.cpu_seconds)
        res["portcullis_baseline"] = {"rss_kib": base, "cpu_ms_per_s": base_cpu,
                                      "threads": int(proc_status(gwpid)["Threads"])}
        log("portcullisd baseline RSS %d KiB, idle CPU %.2f ms/s" % (base, base_cpu))
        sessions = []
        for count in sorted(self.a.sessions):
            more, secs = self.open_sessions("portcullis", count - len(sessions), errlog)
            sessions += more
            time.sleep(3)
            rss = rss_kib(gwpid)
            st = proc_status(gwpid)
            cpu = self.cpu_window([gwpid], self.a.cpu_seconds)
            alive = sum(1 for p in sessions if p.poll() is None)
            if alive != count:
                raise BenchError("only %d of %d idle sessions still alive" % (alive, count))
            prev = res["portcullis"][-1] if res["portcullis"] else None
            entry = {"sessions": count, "rss_kib": rss, "hwm_kib": int(st["VmHWM"].split()[0]),
                     "per_session_kib": (rss - base) / count, "cpu_ms_per_s": cpu,
                     "marginal_kib": ((rss - prev["rss_kib"]) / (count - prev["sessions"])
                                      if prev else None),
                     "threads": int(st["Threads"]),
                     "open_seconds": secs, "fds": len(os.listdir("/proc/%d/fd" % gwpid))}
            res["portcullis"].append(entry)
            log("portcullisd with %d idle sessions: RSS %d KiB (+%.0f KiB/session), "
                "CPU %.2f ms/s, opened in %.1f s" % (count, rss, entry["per_session_kib"], cpu,
                                                       secs))
        self.close_clients(sessions)
        self.clients = [p for p in self.clients if p not in sessions]
        time.sleep(8)
        res["portcullis_after_close_rss_kib"] = rss_kib(gwpid)
        # OpenSSH ProxyJump: the jump host's sshd processes are the counterpart.
        jpid = dict(self.procs)["sshd-jump"].pid
        count = self.a.jump_sessions

        def tree():
            pids = [jpid] + descendants(jpid)
            return pids, sum(rss_kib(p) for p in pids), sum(pss_kib(p) for p in pids)
        _, rss0, pss0 = tree()
        sessions, secs = self.open_sessions("proxyjump", count, errlog)
        time.sleep(3)
        pids, rss1, pss1 = tree()
        cpu = self.cpu_window(pids, self.a.cpu_seconds)
        res["proxyjump"] = {"sessions": count, "processes": len(pids),
                            "rss_sum_per_session_kib": (rss1 - rss0) / count,
                            "pss_sum_per_session_kib": (pss1 - pss0) / count,
                            "cpu_ms_per_s": cpu, "open_seconds": secs}
        log("jump sshd with %d idle sessions: %d processes, +%.0f KiB RSS (sum) / +%.0f KiB PSS "
            "per session, CPU %.2f ms/s" % (count, len(pids), (rss1 - rss0) / count,
                                            (pss1 - pss0) / count, cpu))
        self.close_clients(sessions)
        self.clients = [p for p in self.clients if p not in sessions]
        self.results["idle"] = res

    # ---------- report ----------------------------------------------------
    def report(self):
        R = self.results
        rows = []
        verdicts = []

        def ratio(a, b):
            return a / b if b else float("nan")
        if "throughput" in R:
            for d in ("upload", "download"):
                best = {m: max(R["throughput"][m][d]) for m in MODES}
                r = ratio(best["portcullis"], best["proxyjump"])
                ok = r >= 1.25
                rows.append(("%s MiB/s (best of %d, %d MiB)" % (d, self.a.reps, self.a.size_mib),
                             "%.1f" % best["direct"], "%.1f" % best["proxyjump"],
                             "%.1f" % best["portcullis"], "%.2fx" % r, ">= 1.25x",
                             "met" if ok else "MISSED"))
                verdicts.append(ok)
        if "floor" in R:
            f = R["floor"]
            rows.append(("floor s CPU/GiB (decrypt %.2f + encrypt %.2f + SHA-256 %.2f)" % (
                f["decrypt_s_per_gib"], f["encrypt_s_per_gib"], f["sha256_s_per_gib"]), "", "",
                "%.2f" % f["floor_s_per_gib"], "", "", ""))
            for d in ("upload", "download"):
                r = ratio(f[d + "_cpu_s_per_gib"], f["floor_s_per_gib"])
                ok = r <= 2.0
                rows.append(("gateway s CPU/GiB %s (%d MiB), / floor" % (d, self.a.size_mib), "",
                             "", "%.2f" % f[d + "_cpu_s_per_gib"], "%.2fx" % r, "<= 2.0x floor",
                             "met" if ok else "MISSED"))
                verdicts.append(ok)
        if "ttfc_ms" in R:
            med = {m: median(R["ttfc_ms"][m]) for m in MODES}
            r = ratio(med["portcullis"], med["proxyjump"])
            ok = med["portcullis"] <= med["proxyjump"]
            rows.append(("time to first command ms (median of %d)" % self.a.ttfc_n,
                         "%.0f" % med["direct"], "%.0f" % med["proxyjump"],
                         "%.0f" % med["portcullis"], "%.2fx" % r, "<= 1.00x",
                         "met" if ok else "MISSED"))
            verdicts.append(ok)
            if "target_shell_ms" in R:
                sh = median(R["target_shell_ms"])
                rows.append(("  of which the target's shell start (`bash -c true`)", "%.0f" % sh,
                             "%.0f" % sh, "%.0f" % sh, "", "", ""))
                rows.append(("  without it", "%.0f" % (med["direct"] - sh),
                             "%.0f" % (med["proxyjump"] - sh), "%.0f" % (med["portcullis"] - sh),
                             "%.2fx" % ratio(med["portcullis"] - sh, med["proxyjump"] - sh),
                             "", ""))
        if "echo" in R:
            e = R["echo"]
            for p in ("p50", "p99"):
                k = p + "_ms"
                rows.append(("echo latency %s ms (%d samples)" % (p, self.a.echo_samples),
                             "%.3f" % e["direct"][k], "%.3f" % e["proxyjump"][k],
                             "%.3f" % e["portcullis"][k],
                             "%.2fx" % ratio(e["portcullis"][k], e["proxyjump"][k]), "", ""))
            add_d = e["portcullis"]["p99_ms"] - e["direct"]["p99_ms"]
            add_j = e["portcullis"]["p99_ms"] - e["proxyjump"]["p99_ms"]
            ok = add_d <= 1.0
            rows.append(("  added p99 ms vs direct / vs ProxyJump", "", "", "%+.3f / %+.3f" % (
                add_d, add_j), "", "<= +1 ms vs direct", "met" if ok else "MISSED"))
            rows.append(("  added p50 ms vs direct / vs ProxyJump", "", "", "%+.3f / %+.3f" % (
                e["portcullis"]["p50_ms"] - e["direct"]["p50_ms"],
                e["portcullis"]["p50_ms"] - e["proxyjump"]["p50_ms"]), "", "", ""))
            verdicts.append(ok)
        if "idle" in R:
            i = R["idle"]
            pj = i["proxyjump"]
            for entry in i["portcullis"]:
                ok = entry["per_session_kib"] <= 1024
                rows.append(("idle RSS KiB/session @%d (gateway / jump sshd PSS@%d)" % (
                    entry["sessions"], pj["sessions"]), "",
                    "%.0f" % pj["pss_sum_per_session_kib"], "%.0f" % entry["per_session_kib"],
                    "%.3fx" % ratio(entry["per_session_kib"], pj["pss_sum_per_session_kib"]),
                    "<= 1024 KiB", "met" if ok else "MISSED"))
                verdicts.append(ok)
                if entry["marginal_kib"] is not None:
                    rows.append(("  marginal KiB/session from the previous count", "", "",
                                 "%.0f" % entry["marginal_kib"], "", "", ""))
                rows.append(("idle CPU ms/s @%d (gateway / jump sshd @%d)" % (
                    entry["sessions"], pj["sessions"]), "", "%.2f" % pj["cpu_ms_per_s"],
                    "%.2f" % entry["cpu_ms_per_s"], "", "", ""))
            rows.append(("gateway RSS KiB: fresh / warm baseline / after closing all", "", "",
                         "%d / %d / %d" % (i["portcullis_fresh_rss_kib"],
                                           i["portcullis_baseline"]["rss_kib"],
                                      i["portcullis_after_close_rss_kib"]), "", "", ""))
        head = ("measure", "direct", "ProxyJump", "Portcullis", "PC/PJ", "target", "")
        widths = [max(len(str(r[c])) for r in rows + [head]) for c in range(len(head))]
        out = []
        for r in [head] + rows:
            out.append("  ".join(str(v).ljust(widths[c]) if c == 0 else str(v).rjust(widths[c])
                                 for c, v in enumerate(r)).rstrip())
            if r is head:
                out.append("-" * len(out[0]))
        R["verdicts_all_met"] = all(verdicts)
        return "\n".join(out), all(verdicts)


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for a smoke check (32 MiB, N=2, 50 samples, 20 sessions)")
    ap.add_argument("--size-mib", type=int)
    ap.add_argument("--reps", type=int, help="throughput repetitions (best of)")
    ap.add_argument("--ttfc-n", type=int, help="time-to-first-command samples per mode")
    ap.add_argument("--echo-samples", type=int)
    ap.add_argument("--echo-gap-ms", type=float, default=5.0)
    ap.add_argument("--sessions", help="idle session counts, comma separated (default 100,500)")
    ap.add_argument("--jump-sessions", type=int, help="idle sessions through the jump host")
    ap.add_argument("--cpu-seconds", type=float, help="idle CPU window (default 10)")
    ap.add_argument("--batch", type=int, default=8,
                    help="sessions connected at once (gateway per-source pre-auth cap is 10)")
    ap.add_argument("--only", default="throughput,floor,ttfc,echo,idle",
                    help="phases to run, comma separated")
    ap.add_argument("--timeout", type=int, help="global deadline in seconds")
    ap.add_argument("--json-out", help="write the raw figures as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, state)")
    ap.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    ap.add_argument("--gateway-log-level", default="info")
    ap.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE",
                    help="client option for every mode and hop, e.g. KexAlgorithms=curve25519-sha256")
    ap.add_argument("--portcullisd", default=os.environ.get(
        "PORTCULLISD", os.path.join(TOP, "build", "gateway", "portcullisd")))
    ap.add_argument("--cli", default=os.environ.get(
        "PORTCULLIS_CLI", os.path.join(TOP, "build", "admin_cli", "portcullis")))
    a = ap.parse_args()
    q = a.quick
    a.size_mib = a.size_mib or (32 if q else 512)
    a.reps = a.reps or (2 if q else 3)
    a.ttfc_n = a.ttfc_n or (3 if q else 10)
    a.echo_samples = a.echo_samples or (50 if q else 500)
    a.sessions = [int(x) for x in (a.sessions or ("20" if q else "100,500")).split(",")]
    a.jump_sessions = a.jump_sessions or min(a.sessions)
    a.cpu_seconds = a.cpu_seconds or (3.0 if q else 10.0)
    a.timeout = a.timeout or (115 if q else 1800)
    a.only = set(a.only.split(","))
    # Logins before the idle phase (3 sanity each), then the largest idle count at once.
    pre = 3 + 2 * a.reps + 2 + a.ttfc_n + 1 + a.batch
    a.accounts = (max(a.sessions) if "idle" in a.only else 0) + pre + 2
    return a


def main():
    a = parse()
    for tool in (a.portcullisd, a.cli):
        if not os.access(tool, os.X_OK):
            log("not executable: %s (build first: scripts/build, or set PORTCULLISD / "
                "PORTCULLIS_CLI)" % tool)
            return 1
    for tool in ("ssh", "ssh-keygen", "/usr/sbin/sshd"):
        if not shutil.which(tool):
            log("missing %s" % tool)
            return 1
    b = Bench(a)
    arm_deadline(a.timeout)
    started = time.time()
    b.results["config"] = options_record(a)
    b.results["load_before"] = loadavg()
    rc = 0
    try:
        b.setup()
        b.sanity()
        for phase in ("throughput", "floor", "ttfc", "echo", "idle"):
            if phase in a.only:
                log("phase %s (load %s)" % (phase, loadavg()))
                getattr(b, phase)()
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
        if rc != 0 and b.tmp:
            log("portcullisd log tail:\n" + b.tail(os.path.join(b.tmp, "portcullisd.log")))
        try:
            b.cleanup()
        except Exception as e:  # cleanup must not hide the result
            log("cleanup: %s" % e)
    b.results["load_after"] = loadavg()
    b.results["elapsed_s"] = time.time() - started
    table, all_met = b.report()
    print("Portcullis benchmark, %s, load before %s / after %s, %.0f s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), b.results["load_before"],
        b.results["load_after"], b.results["elapsed_s"]))
    if "ciphers" in b.results:
        print("negotiated client ciphers: " + "; ".join(
            "%s %s" % (m, ",".join(c)) for m, c in b.results["ciphers"].items()))
        print("negotiated client key exchange: " + "; ".join(
            "%s %s" % (m, ",".join(c)) for m, c in b.results["kex"].items()))
    print(table)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(b.results, f, indent=1)
    if rc == 0 and a.strict and not all_met:
        rc = 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
