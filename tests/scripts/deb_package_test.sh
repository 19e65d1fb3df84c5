#!/usr/bin/env bash
# pass and fail always succeed: `check && pass ... || fail ...` is an if-then-else here.
# shellcheck disable=SC2015
# The Debian package, built by cpack from this (already built) tree into a
# scratch directory and inspected with dpkg-deb:
#   - control fields (name, version, architecture, computed dependencies);
#   - every file at its FHS path with a sane mode, owned by root, nothing under
#     /etc or /var, no conffiles, the unit's ExecStart pointing into the package;
#   - the maintainer scripts: mode 0755, `sh -n`, shellcheck when present, and
#     run against stub commands only (PATH holds nothing else, so they cannot
#     touch this machine): they create the user and the state directory through
#     systemd-sysusers/-tmpfiles (or adduser when sysusers is missing), are
#     idempotent, never enable or start the service, and purge keeps the store;
#   - the extracted programs run: --version, --help, init in a scratch state
#     directory, and the installed example configuration passes --check-config.
# Installing the package for real (dpkg -i, or dpkg --root with a scratch dpkg
# database) is deliberately not done: its postinst would create a system user
# on the CI machine.
#   deb_package_test.sh BUILD_DIR SOURCE_DIR CPACK PAM_MODULE_DIR
set -euo pipefail
build="$1"
src="$2"
cpack="$3"
pam_dir="$4"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# ---- build the package ----------------------------------------------------------
umask 022
if ! (cd "$build" && "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$work/out") \
        >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log"; echo "FAIL: cpack"; exit 1
fi
debs=("$work"/out/*.deb)
deb="${debs[0]}"
[ -f "$deb" ] || { cat "$work/cpack.log"; echo "FAIL: no .deb"; exit 1; }
echo "package: $(basename "$deb")"

# ---- control fields -------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = portcullis ] && pass "Package" || fail "Package is '$(field Package)'"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ "$(field Version)" = "$version" ] && pass "Version $version" ||
    fail "Version is '$(field Version)', project is '$version'"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] && pass "Architecture" ||
    fail "Architecture is '$(field Architecture)'"
[ -n "$(field Maintainer)" ] && pass "Maintainer" || fail "no Maintainer"
[ "$(field Section)" = admin ] && pass "Section" || fail "Section is '$(field Section)'"
[ -n "$(field Description)" ] && pass "Description" || fail "no Description"
depends=$(field Depends)
echo "Depends: $depends"
for lib in 'libssh-[0-9]' 'libsqlite3-[0-9]' 'liboath[0-9]' 'libpam0g' 'libssl3' 'libqrencode[0-9]' 'libc6'; do
    if printf '%s' "$depends" | grep -Eq "(^|[ ,])$lib"; then pass "depends on $lib"; else fail "Depends lacks $lib"; fi
done

# ---- files and modes -------------------------------------------------------------
dpkg-deb -c "$deb" >"$work/contents"
# "MODE OWNER/GROUP SIZE DATE TIME ./PATH": MODE and PATH (without the leading dot).
awk '{ p = $6; sub(/^\./, "", p); if (p != "/") print $1, $2, p }' "$work/contents" >"$work/entries"
expect_file() {  # PATH MODE
    local mode path
    read -r mode _ path < <(awk -v p="$1" '$3 == p' "$work/entries") || true
    if [ -z "${path:-}" ]; then fail "missing $1"; return; fi
    [ "$mode" = "$2" ] && pass "$path $mode" || fail "$path has mode $mode, want $2"
}
expect_file /usr/bin/portcullis -rwxr-xr-x
expect_file /usr/bin/portcullisd -rwxr-xr-x
expect_file "$pam_dir/pam_portcullis.so" -rw-r--r--
expect_file /usr/lib/systemd/system/portcullisd.service -rw-r--r--
expect_file /usr/lib/sysusers.d/portcullis.conf -rw-r--r--
expect_file /usr/lib/tmpfiles.d/portcullis.conf -rw-r--r--
for doc in README.md operator-guide.md pam.md reviewer-guide.md recording-format.md \
           portcullisd.conf.example; do
    expect_file "/usr/share/doc/portcullis/$doc" -rw-r--r--
done
expect_file /usr/share/man/man1/portcullis.1.gz -rw-r--r--
expect_file /usr/share/bash-completion/completions/portcullis -rw-r--r--
expect_file /usr/share/zsh/vendor-completions/_portcullis -rw-r--r--
expect_file /usr/share/man/man8/portcullisd.8.gz -rw-r--r--
expect_file /usr/share/man/man8/pam_portcullis.8.gz -rw-r--r--

bad=$(awk '$2 != "root/root"' "$work/entries")
[ -z "$bad" ] && pass "everything owned by root/root" || fail "not owned by root: $bad"
bad=$(awk '$1 ~ /^d/ && $1 != "drwxr-xr-x"' "$work/entries")
[ -z "$bad" ] && pass "directories 0755" || fail "directories with other modes: $bad"
bad=$(awk '$1 ~ /^-/ && ($1 ~ /^.{8}w/ || $1 ~ /[sS]/)' "$work/entries")
[ -z "$bad" ] && pass "no world-writable, setuid or setgid file" || fail "unsafe modes: $bad"
bad=$(awk '$3 ~ /^\/(etc|var|run|tmp|home|root|opt)(\/|$)/' "$work/entries")
[ -z "$bad" ] && pass "nothing under /etc, /var, /run, /opt" ||
    fail "files outside /usr (state and configuration belong to the operator): $bad"

# ---- control archive: maintainer scripts, no conffiles ---------------------------------
dpkg-deb -e "$deb" "$work/control"
[ ! -s "$work/control/conffiles" ] && pass "no conffiles" || fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
    f="$work/control/$script"
    if [ ! -f "$f" ]; then fail "no $script"; continue; fi
    [ "$(stat -c %a "$f")" = 755 ] && pass "$script mode 0755" || fail "$script mode $(stat -c %a "$f")"
    sh -n "$f" && pass "$script: sh -n" || fail "$script: syntax"
    if command -v shellcheck >/dev/null 2>&1; then
        shellcheck -s sh "$f" && pass "$script: shellcheck" || fail "$script: shellcheck"
    fi
    cmp -s "$f" "$src/packaging/deb/$script" && pass "$script is packaging/deb/$script" ||
        fail "$script differs from packaging/deb/$script"
done

# ---- the maintainer scripts against stubs -------------------------------------------
# Every command they may run is a stub that logs its arguments; PATH holds only
# the stubs, so nothing on this machine changes. `getent` answers from a scratch
# passwd that adduser/useradd stubs fill (state across runs: idempotence).
stubs="$work/stubs"
mkdir -p "$stubs"
calls="$work/calls"
users="$work/users"
stub() {  # NAME BODY
    printf '#!/bin/sh\necho "%s $*" >> "%s"\n%s\n' "$1" "$calls" "${2:-exit 0}" >"$stubs/$1"
    chmod 755 "$stubs/$1"
}
# An absolute path: inside the stubs PATH holds nothing but the stubs.
grep_bin=$(command -v grep)
echo_user="echo portcullis >> \"$users\""
write_stubs() {  # WITH_SYSTEMD(yes|no)
    rm -f "$stubs"/*
    for c in systemctl install rm groupadd; do stub "$c"; done
    ln -s "$grep_bin" "$stubs/grep"  # read-only: prerm looks for PAM stacks using the module
    stub getent "[ \"\$1\" = passwd ] && $grep_bin -qx \"\$2\" \"$users\" 2>/dev/null"
    stub adduser "$echo_user"
    stub useradd "$echo_user"
    if [ "$1" = yes ]; then
        stub systemd-sysusers "$echo_user"
        stub systemd-tmpfiles
    fi
}
pam_d="$work/pam.d"   # prerm reads PAM stacks from here instead of /etc/pam.d
mkdir -p "$pam_d"
run_script() {  # SCRIPT ARGS...
    local script="$1"; shift
    env -i PATH="$stubs" PORTCULLIS_PAM_DIR="$pam_d" ${force_remove:+PORTCULLIS_FORCE_REMOVE=1} \
        /bin/sh "$work/control/$script" "$@" >>"$work/script.out" 2>&1
}
force_remove=
count() { grep -c -- "$1" "$calls" || true; }

# With systemd: sysusers and tmpfiles with our snippets, twice.
write_stubs yes; : >"$calls"; : >"$users"
if run_script postinst configure && run_script postinst configure 0.1.0; then
    pass "postinst configure runs twice"
else
    fail "postinst configure failed: $(cat "$work/script.out")"
fi
[ "$(count '^systemd-sysusers /usr/lib/sysusers.d/portcullis.conf$')" = 2 ] &&
    pass "postinst: systemd-sysusers with the package's snippet" || fail "sysusers calls: $(cat "$calls")"
[ "$(count '^systemd-tmpfiles --create /usr/lib/tmpfiles.d/portcullis.conf$')" = 2 ] &&
    pass "postinst: systemd-tmpfiles --create with the package's snippet" || fail "tmpfiles calls: $(cat "$calls")"
[ "$(count '^adduser\|^useradd\|^install\|^rm')" = 0 ] &&
    pass "postinst: no adduser, install or rm when systemd is there" || fail "calls: $(cat "$calls")"
if grep -Eq '^systemctl .*(enable|start|restart|unmask)' "$calls"; then
    fail "postinst enables or starts the service: $(cat "$calls")"
else
    pass "postinst: never enables or starts portcullisd"
fi

# Without systemd-sysusers/-tmpfiles: adduser once (getent sees the user the
# second time), directories by install -d only when missing.
write_stubs no; : >"$calls"; : >"$users"; : >"$work/script.out"
if run_script postinst configure && run_script postinst configure 0.1.0; then
    pass "postinst configure (no systemd) runs twice"
else
    fail "postinst configure (no systemd) failed: $(cat "$work/script.out")"
fi
[ "$(count '^adduser --system')" = 1 ] && pass "postinst: adduser --system once, then the user exists" ||
    fail "adduser calls: $(cat "$calls")"
if grep '^install' "$calls" | grep -qv -- '-d -m 0700 -o portcullis -g portcullis /var/lib/portcullis'; then
    fail "postinst install calls: $(grep '^install' "$calls")"
else
    pass "postinst: directories 0700 portcullis:portcullis, only under /var/lib/portcullis"
fi

# prerm: stops on remove only; postrm purge keeps the store and the user.
write_stubs yes; : >"$calls"; : >"$work/script.out"
run_script prerm upgrade 0.1.0 && [ ! -s "$calls" ] && pass "prerm upgrade: nothing" ||
    fail "prerm upgrade: $(cat "$calls" "$work/script.out")"
# A stack still using the module: removal is refused (a `required` line naming a
# missing module would fail every login), unless forced; a commented line is fine.
printf '#auth required pam_portcullis.so\n' >"$pam_d/login"
run_script prerm remove && pass "prerm remove runs (module only in a comment)" ||
    fail "prerm remove: $(cat "$work/script.out")"
printf '@include common-auth\nauth  required  pam_portcullis.so account=ask\n' >"$pam_d/sudo"
: >"$calls"; : >"$work/script.out"
if run_script prerm remove; then
    fail "prerm remove goes on while /etc/pam.d/sudo uses pam_portcullis.so"
else
    grep -q "$pam_d/sudo" "$work/script.out" && [ ! -s "$calls" ] &&
        pass "prerm remove refuses while a PAM stack uses the module, naming it" ||
        fail "prerm refusal: $(cat "$work/script.out" "$calls")"
fi
force_remove=1
run_script prerm remove && pass "prerm remove with PORTCULLIS_FORCE_REMOVE=1" ||
    fail "forced prerm remove: $(cat "$work/script.out")"
force_remove=
if grep -q '^systemctl' "$calls" && ! grep -q '^systemctl stop portcullisd.service$' "$calls"; then
    fail "prerm remove: $(cat "$calls")"
else
    pass "prerm remove: at most systemctl stop"
fi
: >"$calls"
if run_script postrm remove && run_script postrm purge; then pass "postrm remove, purge run"; else
    fail "postrm: $(cat "$work/script.out")"; fi
if grep -E '^rm ' "$calls" | grep -v '/etc/systemd/system/.*\.wants/portcullisd.service$' | grep -q .; then
    fail "postrm removes more than enablement links: $(cat "$calls")"
else
    pass "postrm purge: the store and the user are kept"
fi
if grep -v '^[[:space:]]*#' "$work/control/postrm" | grep -Eq 'deluser|userdel|rm .*/var/lib'; then
    fail "postrm deletes the user or the store"
else
    pass "postrm never deletes the user or /var/lib/portcullis"
fi
run_script postinst frobnicate && fail "postinst accepts an unknown action" || pass "postinst refuses an unknown action"

# ---- the extracted programs ---------------------------------------------------------
root="$work/root"
dpkg-deb -x "$deb" "$root"
unit="$root/usr/lib/systemd/system/portcullisd.service"
grep -qx 'ExecStart=/usr/bin/portcullisd --state-dir /var/lib/portcullis' "$unit" &&
    pass "unit: ExecStart=/usr/bin/portcullisd" || fail "unit ExecStart: $(grep ExecStart= "$unit")"
[ -x "$root$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")" ] && pass "unit: ExecStart is in the package" ||
    fail "unit: ExecStart not in the package"
diff <(grep -v '^ExecStart=' "$src/systemd/portcullisd.service") <(grep -v '^ExecStart=' "$unit") >/dev/null &&
    pass "unit: the hardened unit from systemd/" || fail "unit differs from systemd/portcullisd.service"
cmp -s "$root/usr/lib/sysusers.d/portcullis.conf" "$src/systemd/portcullis.sysusers" &&
    pass "sysusers snippet" || fail "sysusers snippet differs"
cmp -s "$root/usr/lib/tmpfiles.d/portcullis.conf" "$src/systemd/portcullis.tmpfiles" &&
    pass "tmpfiles snippet" || fail "tmpfiles snippet differs"

missing_libs=$(ldd "$root/usr/bin/portcullis" "$root/usr/bin/portcullisd" "$root$pam_dir/pam_portcullis.so" |
               grep 'not found' || true)
[ -z "$missing_libs" ] && pass "shared libraries resolve" || fail "missing libraries: $missing_libs"
out=$("$root/usr/bin/portcullisd" --version 2>&1) && [ "$out" = "portcullisd $version" ] &&
    pass "portcullisd --version: $out" || fail "portcullisd --version: $out"
out=$("$root/usr/bin/portcullis" --help 2>&1) && grep -q 'user totp enroll' <<<"$out" &&
    pass "portcullis --help" || fail "portcullis --help: $out"
state="$work/state"
out=$(env -u PORTCULLIS_STATE_DIR "$root/usr/bin/portcullis" --state-dir "$state" init 2>&1) &&
    [ -f "$state/portcullis.db" ] && [ -f "$state/keys/host_ed25519" ] &&
    pass "portcullis init in a scratch state directory" || fail "portcullis init: $out"
out=$("$root/usr/bin/portcullisd" --config "$root/usr/share/doc/portcullis/portcullisd.conf.example" \
        --check-config 2>&1) && pass "the example configuration: $out" || fail "example configuration: $out"

if command -v man >/dev/null 2>&1; then
    for page in "$root"/usr/share/man/man*/*.gz; do
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
        [ -z "$warnings" ] && pass "man $(basename "$page")" || fail "man $(basename "$page"): $warnings"
    done
    # The pages follow the programs: every command `portcullis --help` lists is in
    # portcullis(1), every flag `portcullisd --help` lists is in portcullisd(8).
    render() { LC_ALL=C.UTF-8 MANWIDTH=250 man -l "$1" 2>/dev/null | col -b | tr -s ' '; }
    cli_page=$(render "$root/usr/share/man/man1/portcullis.1.gz")
    missing=""
    while read -r cmd; do
        [ -n "$cmd" ] && ! grep -qF -- "$cmd" <<<"$cli_page" && missing="$missing '$cmd'"
    done < <("$root/usr/bin/portcullis" --help | awk '
        /^Commands:/ { f = 1; next }
        f && /^$/ { exit }
        f && /^  [a-z]/ {
            line = substr($0, 3); i = index(line, "  "); if (i) line = substr(line, 1, i - 1)
            n = split(line, w, " "); p = ""
            for (k = 1; k <= n && w[k] ~ /^[a-z][a-z-]*$/; k++) p = p (p ? " " : "") w[k]
            print p
        }')
    [ -z "$missing" ] && pass "portcullis(1) covers every command of portcullis --help" ||
        fail "portcullis(1) (man/portcullis.1) lacks:$missing"
    daemon_page=$(render "$root/usr/share/man/man8/portcullisd.8.gz")
    missing=""
    for flag in $("$root/usr/bin/portcullisd" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
        grep -qF -- "$flag" <<<"$daemon_page" || missing="$missing $flag"
    done
    [ -z "$missing" ] && pass "portcullisd(8) covers every flag of portcullisd --help" ||
        fail "portcullisd(8) (man/portcullisd.8) lacks:$missing"
fi

if [ "$failures" -gt 0 ]; then
    echo "FAIL: $failures problem(s)"
    exit 1
fi
echo "PASS"
