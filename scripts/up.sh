#!/usr/bin/env bash
# `make up`: a working single-machine Relay in the foreground — the broker (embedded PostgreSQL, data in
# .relay/broker) and this machine's relay-agent, enrolled with it. Ctrl+C stops both (the broker stops its
# PostgreSQL). The agent uses this user's normal agent configuration (~/.config/relay/agent.json), so that
# `relay-agent install` and Claude Code sessions started afterwards talk to it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONFIGURATION=${CONFIGURATION:-Release}
config=$(tr '[:upper:]' '[:lower:]' <<<"$CONFIGURATION")
BROKER_ADDRESS=${RELAY_UP_BROKER:-127.0.0.1:7443}
HTTP_ADDRESS=${RELAY_UP_HTTP:-127.0.0.1:7444}
DATA=$PWD/.relay/broker
LOGS=$PWD/.relay/logs
bin() { printf '%s/artifacts/bin/%s/%s/%s' "$PWD" "$1" "$config" "$2"; }
BROKER=$(bin Relay.Broker relay-broker.dll)
AGENT=$(bin Relay.Agent relay-agent.dll)
RELAYCTL=$(bin Relay.Cli relayctl.dll)

say() { printf 'up: %s\n' "$*" >&2; }
die() { printf 'up: error: %s\n' "$*" >&2; exit 1; }

say "building broker, agent, channel and relayctl ($CONFIGURATION)"
for project in src/Broker src/Agent src/Channel src/Cli; do
  dotnet build "$project" -c "$CONFIGURATION" --nologo -v quiet >/dev/null || die "dotnet build $project failed (run it by hand to see why)"
done

mkdir -p "$DATA" "$LOGS"
pids=()
stop() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

say "starting relay-broker on $BROKER_ADDRESS (health on http://$HTTP_ADDRESS, log $LOGS/broker.log)"
dotnet "$BROKER" run --listen "$BROKER_ADDRESS" --http-listen "$HTTP_ADDRESS" --data-dir "$DATA" >>"$LOGS/broker.log" 2>&1 &
pids+=($!)
ready=false
for _ in $(seq 1 120); do
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    tail -n 30 "$LOGS/broker.log" >&2
    die "relay-broker exited during start-up (log above)"
  fi
  if curl -fsS "http://$HTTP_ADDRESS/readyz" >/dev/null 2>&1; then ready=true; break; fi
  sleep 0.5
done
$ready || die "relay-broker did not become ready within 60 s (see $LOGS/broker.log)"
[[ -s $DATA/admin.token ]] || die "$DATA/admin.token is missing: this data directory was created by another run; delete .relay/broker to start afresh"
ADMIN_TOKEN=$(<"$DATA/admin.token")
relayctl() { RELAY_BROKER=$BROKER_ADDRESS RELAY_TOKEN=$ADMIN_TOKEN dotnet "$RELAYCTL" "$@"; }

# Enrol this machine unless the agent's configuration already names a machine this broker knows.
agent_json=${RELAY_AGENT_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/relay}/agent.json
machine_id=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c.get("machine_id","") if c.get("broker")==sys.argv[2] else "")' "$agent_json" "$BROKER_ADDRESS" 2>/dev/null || true)
if [[ -n $machine_id ]] && relayctl machines show "$machine_id" >/dev/null 2>&1; then
  say "this machine is already enrolled ($machine_id)"
else
  name=$(hostname)
  token=$(relayctl machines enroll "$name" 2>/dev/null) || token=$(relayctl machines enroll "$name-$(date +%s)") || die "could not create an enrolment token"
  dotnet "$AGENT" enroll --broker "$BROKER_ADDRESS" --token "$token" >&2 || die "relay-agent enroll failed"
fi

say "starting relay-agent (log $LOGS/agent.log)"
dotnet "$AGENT" run >>"$LOGS/agent.log" 2>&1 &
pids+=($!)

cat >&2 <<MSG
up: Relay is running. In another terminal:
      export RELAY_BROKER=$BROKER_ADDRESS RELAY_TOKEN=\$(cat $DATA/admin.token)
      dotnet $RELAYCTL status              # broker health and version
      dotnet $AGENT status                 # this machine's agent
      dotnet $AGENT install                # wire Claude Code's hooks and the relay channel
      dotnet $AGENT launch --prompt "hi"   # a Claude Code session in tmux that Relay can steer
    Ctrl+C here stops the agent and the broker.
MSG
wait -n "${pids[@]}" || true
say "a process exited; see $LOGS"
