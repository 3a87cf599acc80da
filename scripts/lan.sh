#!/usr/bin/env bash
# A real multi-host Ethernet LAN on one machine, for discovery tests and
# benchmarks. Everything lives in network namespaces this script creates:
#
#   ${PREFIX}sw   the "switch": Linux bridge br0 (no STP, forward_delay 0,
#                 multicast snooping off so IPv6 multicast floods, no IP)
#   ${PREFIX}hK   host K (1..N): lo up, eth0 = veth whose peer hK-0 is a port
#                 of br0; 10.77.0.0/16 with broadcast, IPv6 link-local
#
# No interface is ever created in (or moved through) the root namespace, the
# hosts have no default route (nothing can leave the LAN), and nothing here
# sends a packet: the only traffic is what the kernel itself does on the
# namespaced LAN (ARP, NDP, MLD, router solicitations).
#
# Namespace names are global to the machine, so two runs at once (two
# checkouts testing, a benchmark beside a test) must not share one. Callers
# therefore name their LAN with `prefix TAG PID`: udpmsg-<PID in base36>-TAG,
# PID being the process that owns the LAN and lives as long as it does (the
# test process, the benchmark script). Interface names need no such care:
# every one lives inside a namespace of its LAN.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # sysctl, ip for non-login root shells

SCRIPT=$(basename "$0")
NETNS_DIR=/run/netns
LOCK=/run/lock/udpmsg-lan.lock
[ -d /run/lock ] || LOCK=/run/udpmsg-lan.lock
MAX_HOSTS=1000
READY_TIMEOUT_S=10
# Names made by `prefix`: udpmsg-<owner pid in base36>-<tag>. A pid is at
# most 2^22 (pid_max), 5 base36 digits; 6 are accepted.
OWNED=udpmsg-
OWNED_RE='^udpmsg-([0-9a-z]{1,6})-'

usage() {
    cat >&2 <<EOF
usage: $SCRIPT prefix TAG PID
       $SCRIPT up PREFIX N [--two-if K]... [--v6only K]... [--isolated K]...
       $SCRIPT down PREFIX
       $SCRIPT reap
       $SCRIPT show PREFIX
       $SCRIPT exec PREFIX hK|K|sw CMD [ARGS...]

prefix  prints the PREFIX of a LAN owned by process PID: udpmsg-B-TAG, B
        being PID in base36 (a script passes its own pid, \$\$, and downs
        its LAN on exit). Unique while PID lives, so concurrent runs never
        meet; once PID is gone, reap may delete the LAN.

up      creates namespace PREFIXsw (bridge br0) and hosts
        PREFIXh1..PREFIXhN (N <= $MAX_HOSTS), each with lo and eth0 on the bridge:
          eth0 of host K: 10.77.(K/256).(K%256)/16, brd 10.77.255.255,
                          MAC 02:77:00:00:HH:LL (K = 0xHHLL),
                          link-local fe80::77:ff:fe00:HHLL (DAD off)
        --two-if K    host K also gets eth1 on the bridge:
                      10.77.(128+K/256).(K%256)/16, MAC 02:77:01:00:HH:LL
                      (rp_filter 0, arp_ignore 1: each interface answers
                      ARP for its own address only)
        --v6only K    host K gets no IPv4 address (IPv6 link-local only)
        --isolated K  host K has only lo (not connected to the bridge)
        First reaps (below) and deletes leftover namespaces starting with
        PREFIX; on any failure everything created is deleted again. Prints
        one line per host (h1..hN order), stdout only:
          host=NS [if=IF v4=A[,A...]|- v6=fe80::...[,...]|-]...
        e.g. host=t1h2 if=eth0 v4=10.77.0.2 v6=fe80::77:ff:fe00:2 if=eth1 ...
        An isolated host prints just host=NS.
down    deletes every namespace whose name starts with PREFIX (killing any
        process still inside); idempotent. PREFIX must not be a prefix of
        another concurrent LAN's PREFIX.
reap    deletes the leftovers of runs that died before their down: every
        namespace named udpmsg-B-* (see prefix) whose owner process B is no
        longer running, and what still runs inside. Namespaces of a live
        owner, and names not made by prefix, are never touched.
show    prints the host lines of an existing LAN again.
exec    runs CMD inside host K (or the switch): ip netns exec NS CMD...

PREFIX: 1-64 of [A-Za-z0-9_.-]. Needs root and iproute2.
EOF
    exit 2
}

die() {
    echo "$SCRIPT: $*" >&2
    exit 1
}

check_prefix() {
    [[ $1 =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "bad PREFIX '$1' (1-64 of [A-Za-z0-9_.-])"
}

check_root() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
    command -v ip >/dev/null 2>&1 || die "needs ip (iproute2)"
}

# Serialises namespace creation/deletion across concurrent runs: the first
# `ip netns add` on a machine mounts /run/netns, and two doing it at once can
# stack two mounts and hide each other's namespaces.
with_lock() {
    local fd
    exec {fd}>"$LOCK"
    flock "$fd"
    local rc=0
    "$@" || rc=$?
    exec {fd}>&-
    return "$rc"
}

# Namespaces whose names start with $1, one per line.
namespaces_of() {
    local prefix=$1 name
    [ -d "$NETNS_DIR" ] || return 0
    for name in "$NETNS_DIR"/*; do
        name=${name##*/}
        if [[ $name == "$prefix"* ]]; then printf '%s\n' "$name"; fi
    done
    return 0
}

do_down() {
    local prefix=$1 ns pids
    local -a names=()
    mapfile -t names < <(namespaces_of "$prefix")
    [ ${#names[@]} -eq 0 ] && return 0
    # Processes left inside (a test's listeners) would keep a namespace and
    # its interfaces alive after the name is gone: end them by pid.
    for ns in "${names[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086 # word splitting of the pid list
            kill -KILL $pids 2>/dev/null || true
        fi
    done
    printf 'netns del %s\n' "${names[@]}" | with_lock ip -force -batch - >/dev/null 2>&1 || true
    # Report anything that could not be deleted.
    mapfile -t names < <(namespaces_of "$prefix")
    [ ${#names[@]} -eq 0 ] || die "could not delete: ${names[*]}"
}

# $1 (a decimal number) in base36, lowercase.
base36() {
    local n=$1 digits=0123456789abcdefghijklmnopqrstuvwxyz out=
    while :; do
        out=${digits:n%36:1}$out
        n=$((n / 36))
        [ "$n" -gt 0 ] || break
    done
    printf '%s\n' "$out"
}

do_prefix() {
    local tag=$1 pid=$2
    [[ $pid =~ ^[1-9][0-9]{0,6}$ ]] || die "PID must be a process id, not '$pid'"
    local prefix
    prefix=$OWNED$(base36 "$pid")-$tag
    check_prefix "$prefix"
    printf '%s\n' "$prefix"
}

# Deletes the LANs of owners that are gone. An owner is alive while
# /proc/PID exists (a zombie counts: its parent may still be cleaning up).
# A pid reused by an unrelated process only delays the reaping; one reused
# by a new run owns, and is free to delete, whatever bears its token.
do_reap() {
    local name token
    local -A gone=()
    while read -r name; do
        [[ $name =~ $OWNED_RE ]] || continue
        token=${BASH_REMATCH[1]}
        [ -e "/proc/$((36#$token))" ] || gone[$token]=1
    done < <(namespaces_of "$OWNED")
    for token in "${!gone[@]}"; do
        echo "$SCRIPT: deleting leftover namespaces $OWNED$token-* (process $((36#$token)) is gone)" >&2
        # A subshell: do_down's die must not end an `up` that reaps first.
        (do_down "$OWNED$token-") || echo "$SCRIPT: reap of $OWNED$token-* failed; going on" >&2
    done
    return 0
}

# host=NS [if=IF v4=.. v6=..]... from the kernel's view of namespace $1.
host_line() {
    ip -n "$1" -o addr show | awk -v host="$1" '
        {
            ifn = $2; sub(/@.*/, "", ifn)
            if (ifn == "lo") next
            if (!(ifn in v4)) { order[++n] = ifn; v4[ifn] = "-"; v6[ifn] = "-" }
            split($4, a, "/")
            if ($3 == "inet") {
                v4[ifn] = (v4[ifn] == "-") ? a[1] : v4[ifn] "," a[1]
            } else if ($3 == "inet6" && a[1] ~ /^fe80:/ && $0 !~ / tentative /) {
                v6[ifn] = (v6[ifn] == "-") ? a[1] : v6[ifn] "," a[1]
            }
        }
        END {
            line = "host=" host
            for (i = 1; i <= n; i++) {
                f = order[i]
                line = line " if=" f " v4=" v4[f] " v6=" v6[f]
            }
            print line
        }'
}

# Number of interfaces in host line $1 that have a usable link-local address.
ready_ifs() {
    local line=$1 n=0 tok
    for tok in $line; do
        [[ $tok == v6=fe80:* ]] && n=$((n + 1))
    done
    echo "$n"
}

host_numbers() {
    local prefix=$1 ns
    namespaces_of "$prefix" | while read -r ns; do
        ns=${ns#"$prefix"}
        if [[ $ns =~ ^h([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; fi
    done | sort -n
}

do_show() {
    local prefix=$1 k
    for k in $(host_numbers "$prefix"); do
        host_line "${prefix}h$k"
    done
}

up_failed() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$UP_DONE" != 1 ]; then
        echo "$SCRIPT: up $UP_PREFIX failed; deleting what was created" >&2
        do_down "$UP_PREFIX" || true
        [ "$rc" = 0 ] && rc=1
    fi
    exit "$rc"
}

do_up() {
    local prefix=$1 n=$2
    shift 2
    if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$MAX_HOSTS" ]; then
        die "N must be 1..$MAX_HOSTS, not '$n'"
    fi
    local -A two_if=() v6only=() isolated=()
    local k
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || usage
        k=$2
        if ! [[ $k =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt "$n" ]; then
            die "$1 needs a host number 1..$n, not '$k'"
        fi
        case $1 in
        --two-if) two_if[$k]=1 ;;
        --v6only) v6only[$k]=1 ;;
        --isolated) isolated[$k]=1 ;;
        *) usage ;;
        esac
        shift 2
    done
    for k in "${!isolated[@]}"; do
        if [ -n "${two_if[$k]:-}" ] || [ -n "${v6only[$k]:-}" ]; then
            die "host $k cannot be --isolated and --two-if/--v6only"
        fi
    done

    UP_PREFIX=$prefix
    UP_DONE=0
    trap up_failed EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    do_reap
    if [ -n "$(namespaces_of "$prefix")" ]; then
        echo "$SCRIPT: deleting leftover namespaces ${prefix}*" >&2
        do_down "$prefix"
    fi

    local sw=${prefix}sw
    local -a hosts=()
    for ((k = 1; k <= n; k++)); do hosts+=("${prefix}h$k"); done

    # 1. The namespaces.
    {
        echo "netns add $sw"
        printf 'netns add %s\n' "${hosts[@]}"
    } | with_lock ip -batch -

    # 2. Sysctls, before any interface exists so that new interfaces inherit
    # the "default" values. The switch gets no IPv6 at all (it is a switch,
    # not a host: no addresses, no MLD or router solicitations of its own).
    # Hosts: DAD off so link-local addresses are usable at once; rp_filter
    # off so a broadcast arriving on both interfaces of one host is accepted
    # on each; arp_ignore 1 so an interface answers ARP only for its own
    # address (with two interfaces in one subnet both see every request);
    # arp_announce 2 so ARP requests carry the outgoing interface's address.
    local sys_sw="net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
    local sys_host="net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0"
    sys_host+=" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
    sys_host+=" net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0"
    sys_host+=" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.default.arp_ignore=1"
    sys_host+=" net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.default.arp_announce=2"
    sys_host+=" net.ipv4.conf.all.arp_filter=0 net.ipv4.conf.default.arp_filter=0"
    {
        echo "netns exec $sw sysctl -q -w $sys_sw"
        for ((k = 1; k <= n; k++)); do
            [ -n "${isolated[$k]:-}" ] && continue
            echo "netns exec ${prefix}h$k sysctl -q -w $sys_host"
        done
    } | ip -batch - >/dev/null

    # 3. The switch: the bridge, and per port a veth created in the switch
    # whose peer is created directly inside the host namespace.
    local mac
    {
        echo "link add br0 type bridge forward_delay 0 mcast_snooping 0 stp_state 0"
        echo "link set br0 up"
        for ((k = 1; k <= n; k++)); do
            [ -n "${isolated[$k]:-}" ] && continue
            mac=$(printf '00:%02x:%02x' $((k >> 8)) $((k & 255)))
            echo "link add h$k-0 master br0 up type veth peer name eth0 netns ${prefix}h$k address 02:77:00:$mac"
            if [ -n "${two_if[$k]:-}" ]; then
                echo "link add h$k-1 master br0 up type veth peer name eth1 netns ${prefix}h$k address 02:77:01:$mac"
            fi
        done
    } | ip -n "$sw" -batch -

    # 4. Each host: addresses, then up.
    local -A want=()
    for ((k = 1; k <= n; k++)); do
        if [ -n "${isolated[$k]:-}" ]; then
            ip -n "${prefix}h$k" link set lo up
            want[$k]=0
            continue
        fi
        {
            echo "link set lo up"
            if [ -z "${v6only[$k]:-}" ]; then
                echo "addr add 10.77.$((k >> 8)).$((k & 255))/16 brd + dev eth0"
                if [ -n "${two_if[$k]:-}" ]; then
                    echo "addr add 10.77.$((128 + (k >> 8))).$((k & 255))/16 brd + dev eth1"
                fi
            fi
            echo "link set eth0 up"
            if [ -n "${two_if[$k]:-}" ]; then echo "link set eth1 up"; fi
        } | ip -n "${prefix}h$k" -batch -
        want[$k]=1
        if [ -n "${two_if[$k]:-}" ]; then want[$k]=2; fi
    done

    # 5. Wait until every interface has its link-local address (the kernel
    # adds it asynchronously once the veth carrier is up), then print.
    local -a lines=()
    local deadline=$((SECONDS + READY_TIMEOUT_S)) pending line
    while :; do
        pending=0
        for ((k = 1; k <= n; k++)); do
            [ -n "${lines[$k]:-}" ] && continue
            line=$(host_line "${prefix}h$k")
            if [ "$(ready_ifs "$line")" -ge "${want[$k]}" ]; then
                lines[k]=$line
            else
                pending=$((pending + 1))
            fi
        done
        [ "$pending" = 0 ] && break
        [ "$SECONDS" -lt "$deadline" ] ||
            die "$pending host(s) got no IPv6 link-local address within ${READY_TIMEOUT_S}s"
        sleep 0.02
    done
    for ((k = 1; k <= n; k++)); do printf '%s\n' "${lines[$k]}"; done
    UP_DONE=1
}

main() {
    [ $# -ge 1 ] || usage
    local cmd=$1
    shift
    case $cmd in
    prefix)
        [ $# -eq 2 ] || usage
        check_prefix "$1"
        do_prefix "$1" "$2"
        ;;
    reap)
        [ $# -eq 0 ] || usage
        check_root
        do_reap
        ;;
    up)
        [ $# -ge 2 ] || usage
        check_prefix "$1"
        check_root
        do_up "$@"
        ;;
    down)
        [ $# -eq 1 ] || usage
        check_prefix "$1"
        check_root
        do_down "$1"
        ;;
    show)
        [ $# -eq 1 ] || usage
        check_prefix "$1"
        check_root
        do_show "$1"
        ;;
    exec)
        [ $# -ge 3 ] || usage
        check_prefix "$1"
        local ns=$1 host=$2
        shift 2
        case $host in
        sw | h[0-9]*) ns+=$host ;;
        [0-9]*) ns+=h$host ;;
        *) usage ;;
        esac
        [ -e "$NETNS_DIR/$ns" ] || die "no namespace $ns"
        exec ip netns exec "$ns" "$@"
        ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
