#!/usr/bin/env bash
# Install the Vigie agent on Debian or Ubuntu: the vigie-agent package, then this server's
# collector URL, id and token.
#
#   sudo VIGIE_COLLECTOR_URL=https://collector.example.net \
#        VIGIE_AGENT_TOKEN=... [VIGIE_SERVER_ID=web-01] \
#        [VIGIE_DEB=vigie-agent_0.1.0_all.deb] deploy/install-agent.sh
#
# or, instead of a token copied by hand, enrolment (SPEC-2 §15: the collector's
# [enrolment] token and the service this server joins):
#
#   sudo VIGIE_COLLECTOR_URL=... VIGIE_ENROL_TOKEN=... VIGIE_SERVICE=acme-web \
#        [VIGIE_SERVER_ID=web-01] deploy/install-agent.sh
#
# The agent then enrols at its first start and keeps its own token in
# /var/lib/vigie-agent/agent.token (0600); the enrolment token is never sent again.
#
# With VIGIE_DEB the given package is installed (copy it to the server: nothing else of
# this repository is needed there); without it the package is built from the folder this
# script is in (python3 and dpkg-deb: no git, no PyPI). apt installs its dependencies,
# Debian's python3-* packages. Idempotent: what an operator changed in
# /etc/vigie/agent.toml and a token already in /etc/vigie/agent.token are kept.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF=/etc/vigie/agent.toml
TOKEN_FILE=/etc/vigie/agent.token
ENROL_TOKEN_FILE=/etc/vigie/enrol.token
ENROLLED_TOKEN_FILE=/var/lib/vigie-agent/agent.token   # the agent's user writes it
SERVICE_USER=vigie-agent
PLACEHOLDER_URL="https://collector.invalid"   # what the package's agent.toml says

die() { echo "install-agent: $*" >&2; exit 1; }
# a value for sed's replacement text: its own delimiter, & and \ escaped
sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# checked before anything is installed: each value is written into a TOML string
if [ -n "${VIGIE_COLLECTOR_URL:-}" ] && ! [[ "$VIGIE_COLLECTOR_URL" =~ ^https?://[^[:space:]\"\\]+$ ]]; then
    die "VIGIE_COLLECTOR_URL is not an http:// or https:// URL: $VIGIE_COLLECTOR_URL"
fi
if [ -n "${VIGIE_SERVER_ID:-}" ] && ! [[ "$VIGIE_SERVER_ID" =~ ^[A-Za-z0-9._-]+$ ]]; then
    die "VIGIE_SERVER_ID may hold letters, digits, '.', '_' and '-' only: $VIGIE_SERVER_ID"
fi

if [ -n "${VIGIE_ENROL_TOKEN:-}" ]; then
    [ -n "${VIGIE_SERVICE:-}" ] || die "VIGIE_ENROL_TOKEN needs VIGIE_SERVICE (the service this server joins)"
    [ -z "${VIGIE_AGENT_TOKEN:-}" ] || die "give VIGIE_AGENT_TOKEN or VIGIE_ENROL_TOKEN, not both"
    [[ "$VIGIE_SERVICE" =~ ^[A-Za-z0-9._-]+$ ]] \
        || die "VIGIE_SERVICE may hold letters, digits, '.', '_' and '-' only: $VIGIE_SERVICE"
    [[ "$VIGIE_ENROL_TOKEN" =~ ^[^[:space:]]+$ ]] || die "VIGIE_ENROL_TOKEN holds a space"
fi

[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v apt-get >/dev/null || die "this script supports Debian and Ubuntu (apt-get)"

deb=${VIGIE_DEB:-}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
if [ -z "$deb" ]; then
    echo "==> building the package from $(dirname "$HERE")"
    command -v python3 >/dev/null || die "python3 is needed to build the package (or give VIGIE_DEB)"
    command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to build the package (or give VIGIE_DEB)"
    deb=$(python3 "$HERE/debian/build.py" --out "$workdir")
fi
[ -f "$deb" ] || die "no such package: $deb"
case "$deb" in /*) ;; *) deb="$PWD/$deb" ;; esac   # apt wants a path, not a name

echo "==> installing $(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
# the package lists are refreshed only when apt cannot find a dependency without them
if ! apt-get install -y -q "$deb"; then
    apt-get update -q
    apt-get install -y -q "$deb"
fi

echo "==> configuration in $CONF"
if [ -n "${VIGIE_COLLECTOR_URL:-}" ] && grep -q "^url = \"$PLACEHOLDER_URL\"" "$CONF"; then
    # the package's placeholder only: an URL an operator wrote is never replaced
    sed -i "s|^url = \"$PLACEHOLDER_URL\"|url = \"$(sed_escape "$VIGIE_COLLECTOR_URL")\"|" "$CONF"
fi
if [ -n "${VIGIE_SERVER_ID:-}" ] && grep -q '^# server_id = ' "$CONF"; then
    sed -i "s|^# server_id = \"[^\"]*\"|server_id = \"$VIGIE_SERVER_ID\"|" "$CONF"
fi
if [ -n "${VIGIE_AGENT_TOKEN:-}" ] && [ ! -s "$TOKEN_FILE" ]; then
    # the package made it 0600, owned by the agent's user: the agent refuses any other mode
    printf '%s\n' "$VIGIE_AGENT_TOKEN" > "$TOKEN_FILE"
fi

enrolling=
if [ -n "${VIGIE_ENROL_TOKEN:-}" ] && [ ! -s "$TOKEN_FILE" ] && ! grep -q '^enrol_service = ' "$CONF"; then
    # SPEC-2 §15: the enrolment token in a file of its own, 0600 and the agent's; the
    # agent's own token written at enrolment where its user may write (atomic rename)
    (umask 077; printf '%s\n' "$VIGIE_ENROL_TOKEN" > "$ENROL_TOKEN_FILE")
    chown "$SERVICE_USER:" "$ENROL_TOKEN_FILE"
    chmod 600 "$ENROL_TOKEN_FILE"
    sed -i "s|^token_file = \"[^\"]*\"|token_file = \"$ENROLLED_TOKEN_FILE\"\\
enrol_token_file = \"$ENROL_TOKEN_FILE\"\\
enrol_service = \"$VIGIE_SERVICE\"|" "$CONF"
fi
grep -q '^enrol_service = ' "$CONF" && enrolling=yes

if ! grep -q '^url = "http' "$CONF" || grep -q "^url = \"$PLACEHOLDER_URL\"" "$CONF"; then
    echo "vigie-agent is installed but not started: set the collector's url in $CONF"
    echo "(or run this script again with VIGIE_COLLECTOR_URL), then: systemctl restart vigie-agent"
elif [ -n "$enrolling" ] && [ -d /run/systemd/system ]; then
    systemctl enable vigie-agent.service
    systemctl restart vigie-agent.service
    echo "vigie-agent is running and enrols in ${VIGIE_SERVICE:-its service}: journalctl -u vigie-agent -f"
elif [ -n "$enrolling" ]; then
    echo "vigie-agent is installed and will enrol at its first start (no systemd here to start it)"
elif [ -s "$TOKEN_FILE" ] && runuser -u "$SERVICE_USER" -- \
        vigie-agent --config "$CONF" once >/dev/null; then
    if [ -d /run/systemd/system ]; then
        systemctl enable vigie-agent.service
        systemctl restart vigie-agent.service
        echo "vigie-agent is running: journalctl -u vigie-agent -f"
    else
        echo "vigie-agent is installed and its configuration works (no systemd here to start it)"
    fi
else
    echo "vigie-agent is installed but not started: put the agent token in $TOKEN_FILE,"
    echo "check $CONF (vigie-agent --config $CONF once), then: systemctl restart vigie-agent"
fi
