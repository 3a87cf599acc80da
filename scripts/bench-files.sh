#!/usr/bin/env bash
# Benchmarks `udpmsg send --file` against TCP (`nc`), as root, inside two
# network namespaces joined by a veth pair (MTU 1500) that this script
# creates and removes (nothing touches a real interface): one SIZE-byte
# random file, sent at LOSSES percent loss each way (nftables on both
# hosts' input), RUNS times each. Per run: seconds, MB/s (10^6 bytes),
# the ratio udpmsg/TCP, and CPU seconds per MB (user + system) of each side,
# after one untimed transfer of each. The files live on /dev/shm (tmpfs), so
# the disk is not what is measured.
#
#   sudo scripts/bench-files.sh
#   sudo SIZE=100M LOSSES="0 10" RUNS=3 scripts/bench-files.sh
#   sudo UDPMSG_BIN=target/release/udpmsg scripts/bench-files.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-1G}
LOSSES=${LOSSES:-0 1 10}
RUNS=${RUNS:-1}
P=bf$$
A=${P}a
B=${P}b
WORK=/dev/shm/udpmsg-bench-files.$$

cleanup() {
    for ns in "$A" "$B"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${UDPMSG_BIN:-}" ]; then
    SRC_BIN=$UDPMSG_BIN
else
    cargo build --release --locked -q
    SRC_BIN=target/release/udpmsg
fi
mkdir -p "$WORK/src" "$WORK/in"
BIN=$WORK/udpmsg
cp "$SRC_BIN" "$BIN"
head -c "$SIZE" /dev/urandom > "$WORK/src/file.bin"
BYTES=$(stat -c %s "$WORK/src/file.bin")

ip netns add "$A"
ip netns add "$B"
ip -n "$A" link add "${P}x" type veth peer name "${P}y" netns "$B"
ip -n "$A" addr add 10.66.0.1/24 dev "${P}x"
ip -n "$B" addr add 10.66.0.2/24 dev "${P}y"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "${P}x" up
ip -n "$B" link set "${P}y" up

set_loss() {
    for ns in "$A" "$B"; do
        ip netns exec "$ns" nft flush ruleset
        [ "$1" = 0 ] && continue
        ip netns exec "$ns" nft -f - <<NFT
table inet loss {
  chain in { type filter hook input priority 0; meta l4proto { udp, tcp } numgen random mod 100 < $1 drop; }
}
NFT
    done
}

# cpu FILE: "user sys" (seconds) written by /usr/bin/time -f "%U %S".
cpu() { awk 'END { print $1 + $2 }' "$1"; }

run_udpmsg() {
    rm -f "$WORK/in/"*
    # --count 1: the listener exits once the file is stored and its sender
    # knows it (it lingers for a sender that missed its last status).
    ip netns exec "$B" timeout 660 /usr/bin/time -f "%U %S" -o "$WORK/cpu.recv" \
        "$BIN" listen -q -p 9000 --bind 10.66.0.2 --save-dir "$WORK/in" \
        --max-file-size 8G --count 1 > /dev/null &
    local lp=$!
    sleep 0.3
    local s e
    s=$(date +%s.%N)
    ip netns exec "$A" timeout 600 /usr/bin/time -f "%U %S" -o "$WORK/cpu.send" \
        "$BIN" send -q --file "$WORK/src/file.bin" --timeout 30s 10.66.0.2:9000 2> "$WORK/send.err" \
        || { echo "udpmsg send failed: $(cat "$WORK/send.err")" >&2; pkill -TERM -P "$lp"; exit 1; }
    e=$(date +%s.%N)
    wait "$lp"
    cmp -s "$WORK/src/file.bin" "$WORK/in/file.bin" || { echo "udpmsg: file differs" >&2; exit 1; }
    echo "$(echo "$e - $s" | bc) $(cpu "$WORK/cpu.send") $(cpu "$WORK/cpu.recv")"
}

run_tcp() {
    rm -f "$WORK/in/"*
    ip netns exec "$B" timeout 600 /usr/bin/time -f "%U %S" -o "$WORK/cpu.recv" \
        sh -c "nc -l -p 9001 > '$WORK/in/file.bin'" &
    local lp=$!
    sleep 0.3
    local s e
    s=$(date +%s.%N)
    ip netns exec "$A" timeout 600 /usr/bin/time -f "%U %S" -o "$WORK/cpu.send" \
        nc -N 10.66.0.2 9001 < "$WORK/src/file.bin"
    wait "$lp"
    e=$(date +%s.%N)
    cmp -s "$WORK/src/file.bin" "$WORK/in/file.bin" || { echo "tcp: file differs" >&2; exit 1; }
    echo "$(echo "$e - $s" | bc) $(cpu "$WORK/cpu.send") $(cpu "$WORK/cpu.recv")"
}

MB=$(echo "$BYTES / 1000000" | bc -l)
# One untimed transfer of each kind first: the first to write SIZE bytes
# after the random file was made pays for the memory the machine finds for
# them (measured: half again the receiver's CPU), whichever runs first.
set_loss 0
run_udpmsg > /dev/null
run_tcp > /dev/null
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(uname -r), file $BYTES bytes, veth MTU 1500"
echo
echo "| loss each way | run | udpmsg s | udpmsg MB/s | TCP s | TCP MB/s | ratio | udpmsg CPU ms/MB send / recv | TCP CPU ms/MB send / recv |"
echo "|---|---|---|---|---|---|---|---|---|"
for loss in $LOSSES; do
    set_loss "$loss"
    for run in $(seq "$RUNS"); do
        u=$(run_udpmsg)
        t=$(run_tcp)
        read -r ut us ur <<< "$u"
        read -r tt ts tr <<< "$t"
        printf "| %s%% | %s | %.2f | %.0f | %.2f | %.0f | %.2fx | %.2f / %.2f | %.2f / %.2f |\n" \
            "$loss" "$run" "$ut" "$(echo "$MB / $ut" | bc -l)" "$tt" "$(echo "$MB / $tt" | bc -l)" \
            "$(echo "$tt / $ut" | bc -l)" \
            "$(echo "$us * 1000 / $MB" | bc -l)" "$(echo "$ur * 1000 / $MB" | bc -l)" \
            "$(echo "$ts * 1000 / $MB" | bc -l)" "$(echo "$tr * 1000 / $MB" | bc -l)"
    done
done
