#!/bin/sh
# Add-on entry point: Home Assistant's internal WebSocket and the Supervisor token, data in /data,
# user options from /data/options.json turned into HOMEIQ_* variables.
set -eu
OPTIONS=/data/options.json
opt() { bun -e "const o=JSON.parse(require('fs').readFileSync('$OPTIONS','utf8'));const v=o['$1'];process.stdout.write(v===undefined||v===null?'':String(v))"; }

export HOMEIQ_DATA_DIR=/data
export HOMEIQ_PORT=8787
export HOMEIQ_HA_URL=ws://supervisor/core/websocket
export HOMEIQ_HA_TOKEN="${SUPERVISOR_TOKEN}"
export HOMEIQ_LOG_LEVEL="$(opt log_level)"
export HOMEIQ_INFLUX_URL="$(opt influx_url)"
export HOMEIQ_INFLUX_TOKEN="$(opt influx_token)"
export HOMEIQ_INFLUX_ORG="$(opt influx_org)"
export HOMEIQ_INFLUX_BUCKET="$(opt influx_bucket)"
export HOMEIQ_API_TOKEN="$(opt api_token)"
if [ "$(opt enrichers)" = "false" ]; then
  export HOMEIQ_ENRICHERS_WEATHER=false HOMEIQ_ENRICHERS_AIR_QUALITY=false HOMEIQ_ENRICHERS_CARBON=false HOMEIQ_ENRICHERS_PRICES=false
fi
cd /opt/homeiq
exec bun run runtime/main.ts
