#!/bin/sh
# Add-on entry point: Home Assistant's internal WebSocket and the Supervisor token, data in /data, user
# options from /data/options.json turned into HOMEIQ_* variables.
#
# The Supervisor starts the container as root and creates /data root-owned, so this script starts as root,
# hands /data to the unprivileged user and runs HomeIQ as that user: no HomeIQ code runs as root.
# ADDON_DATA_DIR and ADDON_USER exist for test/addon.test.ts, which runs this script outside a container;
# the Supervisor never sets them.
set -eu
DATA="${ADDON_DATA_DIR:-/data}"
RUN_AS="${ADDON_USER:-bun}"
OPTIONS="$DATA/options.json"
# The path and key go in as arguments, never spliced into the script.
opt() {
  bun -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
process.stdout.write(o === undefined || o === null ? "" : String(o));' "$OPTIONS" "$1"
}

export HOMEIQ_DATA_DIR="$DATA"
# Port and Home Assistant URL: a value already set wins. The Supervisor sets neither; the tests point them
# at loopback.
export HOMEIQ_PORT="${HOMEIQ_PORT:-8787}"
export HOMEIQ_HA_URL="${HOMEIQ_HA_URL:-ws://supervisor/core/websocket}"
export HOMEIQ_HA_TOKEN="${SUPERVISOR_TOKEN}"
# Ingress: the Supervisor's fixed address in the hassio network, and config.yaml's ingress_port. Only that
# peer is answered there, without the token; the main port keeps needing it. The tests use loopback.
export HOMEIQ_API_INGRESS_FROM="${HOMEIQ_API_INGRESS_FROM:-172.30.32.2}"
export HOMEIQ_API_INGRESS_PORT="${HOMEIQ_API_INGRESS_PORT:-8099}"
export HOMEIQ_LOG_LEVEL="$(opt log_level)"
export HOMEIQ_INFLUX_URL="$(opt influx_url)"
export HOMEIQ_INFLUX_TOKEN="$(opt influx_token)"
export HOMEIQ_INFLUX_ORG="$(opt influx_org)"
export HOMEIQ_INFLUX_BUCKET="$(opt influx_bucket)"
export HOMEIQ_API_TOKEN="$(opt api_token)"
if [ "$(opt enrichers)" = "false" ]; then
  export HOMEIQ_ENRICHERS_WEATHER=false HOMEIQ_ENRICHERS_AIR_QUALITY=false HOMEIQ_ENRICHERS_CARBON=false HOMEIQ_ENRICHERS_PRICES=false
fi

# Started with --user (not by the Supervisor): already unprivileged, nothing to hand over.
if [ "$(id -u)" != 0 ]; then
  exec bun run runtime/app/main.ts
fi

uid="$(id -u "$RUN_AS")"
gid="$(id -g "$RUN_AS")"
command -v setpriv >/dev/null || {
  echo "run.sh: setpriv (util-linux) is missing, so HomeIQ cannot drop root; refusing to run it as root" >&2
  exit 1
}
# Data written by earlier, root-run versions becomes the user's too. -h: a symlink in /data is changed
# itself, never what it points to.
chown -R -h "$uid:$gid" "$DATA"
HOME="$(getent passwd "$RUN_AS" | cut -d: -f6)"
export HOME
exec setpriv --reuid="$uid" --regid="$gid" --init-groups --no-new-privs -- bun run runtime/app/main.ts
