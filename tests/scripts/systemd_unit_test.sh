#!/usr/bin/env bash
# Guards the hardening of systemd/portcullisd.service: exposure score <= 2.0
# (systemd-analyze security --offline) and a clean `systemd-analyze verify`.
set -euo pipefail
unit_src="$1"        # systemd/portcullisd.service
daemon="$2"          # the built portcullisd (ExecStart must exist for verify)
max_exposure="2.0"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify resolves ExecStart: point it at the built binary, keep everything else.
sed "s|^ExecStart=/usr/bin/portcullisd|ExecStart=$daemon|" "$unit_src" > "$work/portcullisd.service"

score=$(systemd-analyze security --offline=true --no-pager "$work/portcullisd.service" 2>&1 |
        sed -n 's/.*Overall exposure level for portcullisd.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  echo "FAIL: no exposure score from systemd-analyze security"; exit 1
fi
echo "exposure: $score (max $max_exposure)"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' || {
  echo "FAIL: exposure $score is above $max_exposure"; exit 1; }

verify=$(systemd-analyze verify --man=no "$work/portcullisd.service" 2>&1 || true)
# In a container without a running systemd, verify may complain about the manager itself;
# only lines that name our unit count.
problems=$(printf '%s\n' "$verify" | grep -i 'portcullisd.service' || true)
if [ -n "$problems" ]; then
  echo "FAIL: systemd-analyze verify:"; printf '%s\n' "$problems"; exit 1
fi
echo "PASS"
