#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Several hosts behind HAProxy. Builds the .deb (or takes
# --deb), makes three Debian 12 hosts from the nspawn tier's cached tree
# (lib.sh), each booted with systemd-nspawn -b on a bridge of its own
# address, all inside a network namespace this test makes (10.213.7.0/24,
# no route out: not one packet leaves it). Each host runs the installed
# package under its own systemd, its socket opened to the balancer's
# address with the package's lms-network.conf example as an operator would.
# Debian's HAProxy runs the package's haproxy.cfg example (only the
# addresses, the log target and the stats socket path changed: checked)
# in the same namespace. Under a steady mixed load from one client address
# (multihost_load.py: fast and slower code-execs, each answer checked, each
# with a unique slug), four scenarios:
#   spread     every host serves, no error;
#   unhealthy  host 2's selfcheck fails for real (a module the config
#              requires disappears, the selfcheck runs as its timer would):
#              /health/ 503, HAProxy drains it within two check intervals,
#              its refusals retried elsewhere: no client-visible error;
#   poweroff   host 3's PID 1 killed mid-load (the power cut): errors at
#              most the requests it was executing, none after the drain;
#   comeback   host 3 boots again under load and is back in rotation.
# Executions are counted from each host's `journalctl -t codejail` (one
# entry per request, CODEJAIL_SLUG): a request executed on two hosts is a
# duplicate. The summary prints each scenario's counts and drain times.
#
#   tests/integration/multihost-test.sh [--deb FILE] [--keep]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEB=
KEEP=0
while [ $# -gt 0 ]; do
        case $1 in
        --deb) DEB=$(realpath "$2"); shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) sed -n '3,26p' "$0" >&2; exit 2 ;;
        esac
done
CJ_NAME=multihost-test
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "must run as root"

NET=10.213.7             # the test's own subnet, inside its own namespace
LB=$NET.1                # HAProxy's address: the only one the hosts allow
OTHER=$NET.3             # an address the hosts must refuse
NS=cjmh$$
HOSTS="1 2 3"
H_MERGED=() H_RUN=() H_PID=() H_LEADER=()
HAPROXY_PID=
LOAD_PID=
LOAD=(/usr/bin/python3 "$HERE/multihost_load.py")

stop_host() {  # $1 = host number: the power cut, then reap nspawn
        local i=$1 pid=${H_PID[$1]:-}
        [ -n "$pid" ] || return 0
        if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "${H_LEADER[$i]}" 2>/dev/null || true
                for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
                kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        cj_cgroup_remove "cj$$h$i"
        H_PID[i]=
}
cj_cleanup_extra() {
        local i p
        for p in $LOAD_PID $HAPROXY_PID; do
                kill "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        for i in $HOSTS; do
                stop_host "$i"
                [ -n "${H_MERGED[$i]:-}" ] && mountpoint -q "${H_MERGED[$i]}" &&
                        { umount "${H_MERGED[$i]}" || umount -l "${H_MERGED[$i]}" || true; }
                [ "$KEEP" = 1 ] || [ -z "${H_RUN[$i]:-}" ] || rm -rf "${H_RUN[$i]}"
        done
        ip netns del "$NS" 2>/dev/null || true
        # Everything of cj_cleanup's own was per host, and is gone.
        NSPAWN_PID='' MERGED='' RUN=''
        cj_heavy_end
        return 0
}
in_host() { local i=$1; shift; nsenter -t "${H_LEADER[$i]}" -a -- "$@"; }
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

cj_need_tools haproxy:haproxy
cj_workdir
# The whole run: three booted hosts under load measure nothing while
# someone else's build shares the two cores.
cj_heavy_begin "three hosts under load"
CJ_LINTIAN=0 cj_build_deb

# ---- the network: a namespace, a bridge, the balancer's address -----------------
say "network namespace $NS: bridge br0, $LB/24 (no route out)"
ip netns add "$NS"
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip link set lo up
# A fixed address: a bridge otherwise takes its ports' lowest, and a host
# booting again would change it under the others' ARP caches.
in_ns ip link add br0 address 02:00:0a:d5:07:01 type bridge
in_ns ip addr add "$LB/24" dev br0
in_ns ip link set br0 up
export CJ_NETNS=$NS CJ_NSPAWN_NET=--network-bridge=br0

# ---- three hosts -------------------------------------------------------------------
example() {  # the package's example file $1, as installed on host 1
        local d=${H_MERGED[1]}/usr/share/doc/codejail-service/examples
        if [ -f "$d/$1" ]; then cat "$d/$1"; else zcat "$d/$1.gz"; fi
}
for i in $HOSTS; do
        CJ_HOST=h$i CT=cj$$h$i
        cj_rootfs
        H_MERGED[i]=$MERGED H_RUN[i]=$RUN
        cj_install
        # As an operator would: enabled, a queue shorter than the balancer's
        # server timeout (units/README.md "Several hosts"), the modules the
        # courses import checked by the selfcheck.
        cat >"$MERGED/etc/codejail-service/codejail.json" <<'EOF'
{"enabled": true, "queue_timeout_s": 10, "sandbox_required_modules": ["six"]}
EOF
        chmod 0600 "$MERGED/etc/codejail-service/codejail.json"
        mkdir -p "$MERGED/etc/systemd/system/codejail.socket.d"
        example lms-network.conf | sed "s|^IPAddressAllow=.*|IPAddressAllow=$LB|" \
                >"$MERGED/etc/systemd/system/codejail.socket.d/lms-network.conf"
        grep -qx "IPAddressAllow=$LB" "$MERGED/etc/systemd/system/codejail.socket.d/lms-network.conf" ||
                die "the lms-network.conf example has no IPAddressAllow= line to set"
        # Its journal survives the power cut and the reboot: persistent, one
        # machine ID for both boots.
        mkdir -p "$MERGED/var/log/journal"
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$MERGED/etc/machine-id"
        cj_nspawn_run systemctl enable codejail.socket >/dev/null 2>&1 || die "systemctl enable codejail.socket failed"
done

boot_host() {  # $1 = host number
        local i=$1
        CJ_HOST=h$i CT=cj$$h$i MERGED=${H_MERGED[$i]}
        cj_boot
        H_PID[i]=$NSPAWN_PID H_LEADER[i]=$LEADER
        nsenter -t "$LEADER" -n ip addr add "$NET.1$i/24" dev host0
        nsenter -t "$LEADER" -n ip link set host0 up
        cj_wait_health "http://$NET.1$i:8080" || die "host $i: /health/ never 200"
        say "host $i: $NET.1$i, /health/ 200"
}
for i in $HOSTS; do boot_host "$i"; done

# The balancer's address is let in (the health waits above); another is not.
in_ns ip addr add "$OTHER/32" dev br0
if in_ns curl -s -o /dev/null --interface "$OTHER" --max-time 3 "http://$NET.11:8080/health/"; then
        fail "host 1 answered $OTHER, which its IPAddressAllow= does not name"
else
        say "host 1 refuses $OTHER (IPAddressAllow=$LB only)"
fi
in_ns ip addr del "$OTHER/32" dev br0

# ---- the balancer: the package's haproxy.cfg ------------------------------------------
# Changed: the log target (stderr: HAProxy runs in the foreground here),
# the stats socket path, daemon, and the example addresses 10.20.0.x.
example haproxy.cfg >"$WORK/haproxy.cfg.shipped"
sed -e "s|^    log /dev/log local0\$|    log stderr format short local0|" \
    -e "s|^    stats socket .*|    stats socket $WORK/haproxy.sock mode 600 level admin|" \
    -e '/^    daemon$/d' \
    -e "s|10\.20\.0\.|$NET.|g" "$WORK/haproxy.cfg.shipped" >"$WORK/haproxy.cfg"
changed=$(diff "$WORK/haproxy.cfg.shipped" "$WORK/haproxy.cfg" | grep -c '^[<>]' || true)
[ "$changed" = 11 ] || die "templating haproxy.cfg changed $changed lines, not the 11 expected (the example changed?)"
INTER=$(sed -n 's/^ *default-server .* inter \([0-9.]*\)s .*/\1/p' "$WORK/haproxy.cfg")
[ -n "$INTER" ] || die "no 'inter Ns' on haproxy.cfg's default-server line"
in_ns haproxy -c -q -f "$WORK/haproxy.cfg" || die "haproxy -c: the example does not parse"
# Not through in_ns: $! must be HAProxy itself (nsenter execs it), not a
# subshell that would leave it running when killed.
nsenter --net="/run/netns/$NS" haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!
lb_state() { "${LOAD[@]}" state "$WORK/haproxy.sock" "$1" 2>/dev/null || echo none; }
wait_state() {  # $1 = server, $2 = state prefix, $3 = seconds
        local st=
        for _ in $(seq 1 $(($3 * 5))); do
                st=$(lb_state "$1")
                case $st in "$2"*) return 0 ;; esac
                sleep 0.2
        done
        fail "HAProxy: $1 is '$st' after $3 s, not $2"
        return 1
}
for i in $HOSTS; do wait_state "codejail$i" UP 15 || die "HAProxy never saw host $i UP"; done
say "HAProxy $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p'): 3 servers UP, checks every $INTER s"

# ---- the scenarios ----------------------------------------------------------------------------
load_start() {  # $1 = scenario, $2 = at most this many seconds
        say "scenario $1"
        nsenter --net="/run/netns/$NS" "${LOAD[@]}" load --base http://127.0.0.1:8080 --stats "$WORK/haproxy.sock" --scenario "$1" \
                --duration "$2" --stop-file "$WORK/stop-$1" --out "$WORK" &
        LOAD_PID=$!
}
load_wait() { wait "$LOAD_PID" || fail "load $1 failed"; LOAD_PID=; }
event() {  # scenario event host what [time]
        printf '{"scenario": "%s", "event": "%s", "server": "codejail%s", "host": "h%s", "what": "%s", "t": %s}\n' \
                "$1" "$2" "$3" "$3" "$4" "${5:-$(date +%s.%N)}" >>"$WORK/events.jsonl"
}

load_start spread 20
load_wait spread

# A module the config requires vanishes (an upgrade, a venv rebuilt
# without it), and the selfcheck runs as its timer would: the verdict is
# FAILED from the moment health.json is written.
SIX=/usr/lib/python3/dist-packages/six.py
load_start unhealthy 20
sleep 5
in_host 2 mv "$SIX" "$SIX.gone"
in_host 2 systemctl start codejail-selfcheck.service 2>/dev/null && fail "host 2: the selfcheck passed without six"
event unhealthy fault 2 "selfcheck failed (six missing)" "$(in_host 2 stat -c %.3Y /run/codejail-service/health.json)"
load_wait unhealthy
in_host 2 mv "$SIX.gone" "$SIX"
in_host 2 systemctl start codejail-selfcheck.service || fail "host 2: the selfcheck still fails with six back"
wait_state codejail2 UP 15 || true

load_start poweroff 20
sleep 5
event poweroff fault 3 "power cut (PID 1 killed)"
kill -KILL "${H_LEADER[3]}"
load_wait poweroff
stop_host 3

load_start comeback 60
sleep 3
event comeback back 3 "booted again"
boot_host 3
wait_state codejail3 UP 20 || true
sleep 6
: >"$WORK/stop-comeback"
load_wait comeback

# ---- what each host executed -----------------------------------------------------------------
for i in $HOSTS; do
        in_host "$i" journalctl -t codejail -o json --no-pager >"$WORK/journal-h$i.json"
done
grep -E 'is (DOWN|UP)' "$WORK/haproxy.log" | sed 's/^/   haproxy: /' || true
"${LOAD[@]}" report --work "$WORK" --inter "$INTER" | tee "$WORK/summary.log" || fail "targets missed (above)"
cp "$WORK/summary.log" "$WORK/multihost-summary.log"

say "done: $FAILED failure(s)"
[ "$FAILED" = 0 ]
