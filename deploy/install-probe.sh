#!/usr/bin/env bash
# Install a Vigie probe on Debian or Ubuntu (SPEC-2 §10, docs/probes.md): the probe and the
# agent parts it is made of under /opt/vigie-probe, Debian's python3 libraries, a user
# of its own, /etc/vigie/probe.toml and its token, and the systemd unit.
#
#   sudo VIGIE_COLLECTOR_URL=https://collector.example.net VIGIE_PROBE_ID=lyon-dc2 \
#        VIGIE_PROBE_TOKEN=... deploy/install-probe.sh
#
# Idempotent: what an operator changed in /etc/vigie/probe.toml and a token already in
# /etc/vigie/probe.token are kept.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")
DEST=/opt/vigie-probe
CONF=/etc/vigie/probe.toml
TOKEN_FILE=/etc/vigie/probe.token
SERVICE_USER=vigie-probe

die() { echo "install-probe: $*" >&2; exit 1; }

if [ -n "${VIGIE_COLLECTOR_URL:-}" ] && ! [[ "$VIGIE_COLLECTOR_URL" =~ ^https?://[^[:space:]\"\\]+$ ]]; then
    die "VIGIE_COLLECTOR_URL is not an http:// or https:// URL: $VIGIE_COLLECTOR_URL"
fi
if [ -n "${VIGIE_PROBE_ID:-}" ] && ! [[ "$VIGIE_PROBE_ID" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    die "VIGIE_PROBE_ID may hold letters, digits, '.', '_' and '-' only: $VIGIE_PROBE_ID"
fi
[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v apt-get >/dev/null || die "this script supports Debian and Ubuntu (apt-get)"

echo "==> Debian's libraries (python3-requests; python3-icmplib where the release has it)"
export DEBIAN_FRONTEND=noninteractive
packages="python3 python3-requests"
if apt-cache show python3-icmplib >/dev/null 2>&1; then
    packages="$packages python3-icmplib"
else
    packages="$packages iputils-ping"   # Debian 11: the system's ping does the work
fi
if python3 -c 'import sys; sys.exit(sys.version_info >= (3, 11))'; then
    packages="$packages python3-tomli"
fi
# shellcheck disable=SC2086
apt-get install -y -q $packages || { apt-get update -q; apt-get install -y -q $packages; }

echo "==> the probe in $DEST"
install -d -m 0755 "$DEST"
rm -rf "$DEST/agent" "$DEST/probe"
cp -r "$SRC/agent" "$SRC/probe" "$DEST/"
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +

if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    adduser --system --group --no-create-home --home /var/lib/vigie-probe "$SERVICE_USER"
fi
install -d -m 0755 /etc/vigie
if [ ! -f "$CONF" ]; then
    sed -e "s|^probe_id = .*|probe_id = \"${VIGIE_PROBE_ID:-$(hostname -s)}\"|" \
        -e "s|^url = .*|url = \"${VIGIE_COLLECTOR_URL:-https://collector.invalid}\"|" \
        "$HERE/examples/probe.toml" > "$CONF"
    chmod 0644 "$CONF"
fi
if [ -n "${VIGIE_PROBE_TOKEN:-}" ] && [ ! -s "$TOKEN_FILE" ]; then
    umask 077
    printf '%s\n' "$VIGIE_PROBE_TOKEN" > "$TOKEN_FILE"
fi
[ -f "$TOKEN_FILE" ] && chown "$SERVICE_USER:$SERVICE_USER" "$TOKEN_FILE" && chmod 0600 "$TOKEN_FILE"

install -m 0644 "$HERE/systemd/vigie-probe.service" /etc/systemd/system/vigie-probe.service
if grep -q '^url = "https://collector.invalid"' "$CONF" || [ ! -s "$TOKEN_FILE" ]; then
    echo "vigie-probe is installed but not started: set url in $CONF and the token in"
    echo "$TOKEN_FILE (or run this script again with VIGIE_COLLECTOR_URL, VIGIE_PROBE_TOKEN)"
elif [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable vigie-probe.service
    systemctl restart vigie-probe.service
    echo "vigie-probe is running: journalctl -u vigie-probe -f"
else
    echo "vigie-probe is installed (no systemd here to start it)"
fi
