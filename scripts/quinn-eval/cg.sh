#!/bin/bash
# callgrind: instructions of `udpmsg listen --json` reading a pre-filled queue
# of N datagrams (111 bytes, from the C sender) in one go; run for two N, the
# difference / (N2-N1) is the per-datagram cost without start-up.
# usage: cg.sh BIN SENDER N TAG   (re-executes itself under unshare -n)
set -euo pipefail
if [ "${CG_NETNS:-}" != 1 ]; then export CG_NETNS=1; exec unshare -n -- bash "$0" "$@"; fi
ip link set lo up
if ip -o link show | awk -F': ' '{print $2}' | grep -qv '^lo$'; then echo "other interfaces: refusing" >&2; exit 1; fi
BIN=$1 SENDER=$2 N=$3 TAG=$4
PORT=45000
OUT=${QDIR:-/tmp/qbench}/cg.$TAG.$N
valgrind --tool=callgrind --callgrind-out-file=$OUT.cg "$BIN" listen --json --port $PORT --count $N --timeout 300s >${QDIR:-/tmp/qbench}/cg.$TAG.$N.json 2>${QDIR:-/tmp/qbench}/cg.$TAG.$N.vg &
pid=$!
for i in $(seq 200); do grep -q ":$(printf %04X $PORT) " /proc/net/udp 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -STOP $pid
"$SENDER" 127.0.0.1 $PORT $N 111 2>>$OUT.send
kill -CONT $pid
timeout 300 tail --pid=$pid -f /dev/null || { kill $pid; echo timeout >&2; }
wait $pid || true
echo "$TAG N=$N lines=$(wc -l < $OUT.json) Ir=$(grep -m1 '^summary:' $OUT.cg | awk '{print $2}')"
