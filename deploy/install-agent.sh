#!/usr/bin/env bash
# Install the Vigie agent on Debian or Ubuntu from this repository checkout.
#
#   sudo VIGIE_COLLECTOR_URL=https://collector.example.net \
#        VIGIE_AGENT_TOKEN=... deploy/install-agent.sh
#
# Idempotent: an existing /etc/vigie/agent.toml or token file is never overwritten.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/vigie-agent
CONF_DIR=/etc/vigie
CONF=$CONF_DIR/agent.toml
TOKEN_FILE=$CONF_DIR/agent.token
STATE_DIR=/var/lib/vigie-agent
SERVICE_USER=vigie-agent
UNIT=/etc/systemd/system/vigie-agent.service

die() { echo "install-agent: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v apt-get >/dev/null || die "this script supports Debian and Ubuntu (apt-get)"

echo "==> system packages"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv

echo "==> user $SERVICE_USER"
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin "$SERVICE_USER"
fi

echo "==> virtual environment in $PREFIX"
[ -x "$PREFIX/bin/python" ] || python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet --upgrade pip
"$PREFIX/bin/pip" install --quiet "$REPO_DIR"

echo "==> configuration in $CONF_DIR"
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
if [ ! -e "$TOKEN_FILE" ]; then
    # 0600, owned by the agent's user: the agent refuses a token others can read
    install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" /dev/null "$TOKEN_FILE"
    if [ -n "${VIGIE_AGENT_TOKEN:-}" ]; then
        printf '%s\n' "$VIGIE_AGENT_TOKEN" > "$TOKEN_FILE"
    fi
fi
if [ ! -e "$CONF" ]; then
    tmp=$(mktemp)
    cat > "$tmp" <<TOML
server_id = "${VIGIE_SERVER_ID:-$(hostname)}"
interval = 10

[collector]
url = "${VIGIE_COLLECTOR_URL:-https://collector.invalid}"
token_file = "$TOKEN_FILE"

[metrics]
listen = "127.0.0.1:9839"

[spool]
path = "$STATE_DIR/spool"
max_bytes = 52428800
TOML
    install -m 0640 -o root -g "$SERVICE_USER" "$tmp" "$CONF"
    rm -f "$tmp"
fi

echo "==> systemd unit"
install -m 0644 "$REPO_DIR/deploy/systemd/vigie-agent.service" "$UNIT"
systemctl daemon-reload
systemctl enable vigie-agent.service

if [ -s "$TOKEN_FILE" ] && runuser -u "$SERVICE_USER" -- \
        "$PREFIX/bin/vigie-agent" --config "$CONF" once >/dev/null; then
    systemctl restart vigie-agent.service
    echo "vigie-agent is running: journalctl -u vigie-agent -f"
else
    echo "vigie-agent is installed but not started: put the agent token in $TOKEN_FILE,"
    echo "check $CONF (vigie-agent --config $CONF once), then: systemctl start vigie-agent"
fi
