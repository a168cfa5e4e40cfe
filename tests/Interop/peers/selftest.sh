#!/usr/bin/env bash
# Cross-language self-test of the stock interop peers, without Relay:
# every client (python, node) against every server (python, node), over TCP and
# a unix socket, for `--case all,health`. Also checks that each server exits 0
# when its stdin reaches EOF. Needs `npm ci --prefix tests/Interop/peers/node` first.
#
# Usage: tests/Interop/peers/selftest.sh [--same-language]   (also python->python, node->node)
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
work="$(mktemp -d /tmp/relay-peers-selftest.XXXXXX)"
trap 'rm -rf "$work"' EXIT
same=0
[ "${1:-}" = "--same-language" ] && same=1

fail=0
declare -A server_cmd=(
  [python]="$py $here/python/interop_server.py"
  [node]="node $here/node/interop_server.js"
)
declare -A client_cmd=(
  [python]="$py $here/python/interop_client.py"
  [node]="node $here/node/interop_client.js"
)

for server in python node; do
  for transport in tcp unix; do
    if [ "$transport" = tcp ]; then listen=127.0.0.1:0; else listen="unix:$work/$server.sock"; fi
    mkfifo "$work/in"
    ${server_cmd[$server]} --listen "$listen" <"$work/in" >"$work/out" 2>"$work/err" &
    pid=$!
    exec 3>"$work/in" # holds the server's stdin open; closing it means EOF
    for _ in $(seq 100); do grep -q '^LISTENING ' "$work/out" 2>/dev/null && break; sleep 0.1; done
    where="$(awk '/^LISTENING /{print $2}' "$work/out")"
    if [ -z "$where" ]; then
      echo "FAIL: $server server did not print LISTENING"; cat "$work/err"; fail=1
    else
      if [ "$transport" = tcp ]; then target="127.0.0.1:$where"; else target="unix:$where"; fi
      for client in python node; do
        [ "$client" = "$server" ] && [ $same = 0 ] && continue
        out="$(${client_cmd[$client]} --target "$target" --case all,health 2>"$work/cerr")"
        rc=$?
        passed=$(grep -c '"ok": *true' <<<"$out")
        failed=$(grep -c '"ok": *false' <<<"$out")
        echo "$client client -> $server server over $transport: $passed passed, $failed failed (exit $rc)"
        if [ $rc -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -ne 16 ]; then
          fail=1; grep '"ok": *false' <<<"$out"; cat "$work/cerr"
        fi
      done
    fi
    exec 3>&- # EOF on the server's stdin
    for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then
      echo "FAIL: $server server still running 5 s after stdin EOF"; kill $pid; fail=1
    else
      wait $pid; src=$?
      [ $src -eq 0 ] || { echo "FAIL: $server server exited $src"; fail=1; }
    fi
    rm -f "$work/in"
  done
done
[ $fail = 0 ] && echo "selftest: all passed" || echo "selftest: FAILURES"
exit $fail
