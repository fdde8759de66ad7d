#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Burst benchmark: closed-loop clients from one source address at
# 16, 64, 128 and 256 concurrent clients, N requests per level (a mix: 80%
# `x = x + 1`, 10% numpy, 7% a 1 s CPU-bound loop, 3% a sleep past
# REALTIME; tests/integration/burst_bench.py), every answer checked, against
#   (A) a booted Debian 12 or 13 (systemd-nspawn -b, the container of
#       nspawn-test.sh / nspawn-bench.sh --suite): the .deb built for that
#       release, its codejail.socket and, with --baseline REF, REF's
#       binary (built for the same release) under REF's units (another
#       port) -- "before" against "after", in ONE boot;
#   (B) the plain loop: the same two binaries under systemd-socket-activate
#       on this host (Debian 12; no booted system, no socket limits), in a
#       loopback-only network namespace.
# Per level and variant: refused/reset connections, 5xx (503), wrong
# answers, p50/p99 latency, throughput, the share answered within 3.5 s,
# peak memory of all instances and their jails above idle, the listener's
# CPU (systemd's PID 1 in the container; systemd-socket-activate), and
# whether the listener is still up and answers. Then, booted only and
# without --rush, the memory one waiting instance costs (for sizing
# MaxConnections=, units/README.md).
#
#   tests/integration/burst-bench.sh [--suite bookworm|trixie] [--deb FILE] [--baseline REF]
#                                    [--levels L,L,..] [-n N] [--executions N,N,..]
#                                    [--backlog N,N,..] [--poll-burst N,N,..] [--nice N,N,..]
#                                    [--booted-only | --activate-only] [--keep]
#                                    [--rush [--rush-seconds S] [--rush-levels L,L,..]]
#                                    [--head-binary F] [--baseline-binary F]
#     --suite       the booted container's release: bookworm (Debian 12,
#                   systemd 252; default: booted, then the activator) or
#                   trixie (Debian 13, systemd 257; booted only: the
#                   activator runs this host's binaries). The .deb is built
#                   for it (lib.sh cj_build_deb_for), and REF's codejaild
#                   in the same release's build tree.
#     --executions  booted: also the installed unit with max_concurrent_executions
#                   set to each N (how the default was chosen)
#     --backlog     booted: also the installed units with the socket's
#                   Backlog= set to each N (another port each): whether
#                   SYNs the kernel drops past a short queue serve the
#                   students better than connections PID 1 starts late
#     --poll-burst  booted, systemd >= 255: also the installed units with
#                   the socket's PollLimitBurst= set to each N per 2 s
#                   (default 150: how many connections PID 1 accepts in
#                   2 s before it stops accepting for the rest of them)
#     --nice        booted: also the installed units with the instances'
#                   (and so their jails') Nice= set to each N: whether
#                   PID 1 starting instances ahead of the executions helps
#     --rush        in each phase, LMS-like students: capacity (6 patient
#                   clients) and goodput of students (0.5 s connect and
#                   3.5 s read timeouts, resubmitting after 0.2-1 s, three
#                   tries) at --rush-levels (16,64,256), S s per run (60),
#                   with what the log (booted: the container's journal)
#                   says became of their executions (burst_bench.py rush).
#                   The closed loop then runs only at the --levels given
#                   (none by default), before the rush, in the same boot.
#     --head-binary, --baseline-binary  activator only: codejaild binaries
#                   already built (this tree's; --baseline REF's), so the
#                   locked run does not build them
# e.g. (tests/bench/README.md "burst-bench.sh: bursts"):
#   flock /tmp/cj-heavy.lock tests/integration/burst-bench.sh --baseline da51f8b
# Before/after per release (the closed loop's 16 mixed clients, 1,000
# requests, then the rush; bookworm also under the activator), two commands,
# ~30 and ~20 min:
#   flock /tmp/cj-heavy.lock tests/integration/burst-bench.sh --suite bookworm --baseline REF --levels 16 --rush
#   flock /tmp/cj-heavy.lock tests/integration/burst-bench.sh --suite trixie --baseline REF --levels 16 --rush
# Tables on stdout and, kept after the run, in /var/cache/codejail-test/last-run/:
# burst-booted-SUITE.log (closed loop), burst-booted-rush-SUITE.log,
# burst-activate.log, burst-activate-rush.log (and their -result.json).
#
# Memory: the container's systemd 252 on this hybrid-cgroup host has no
# memory controller of its own, so the whole container (or the activator and
# its children) runs in a memory cgroup of its own on the host and the peak
# is reported above the idle level measured right before each run.
set -euo pipefail

BURST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CJ_NAME=burst-bench
KEEP=0
DEB=
BASELINE=
SUITE=bookworm
LEVELS=
NREQ=1000
PHASES=
EXECUTIONS=
BACKLOGS=
POLL_BURSTS=
NICES=
RUSH=0
RUSH_SECONDS=60
RUSH_LEVELS=16,64,256
HEAD_BIN=
BASE_BIN=
while [ $# -gt 0 ]; do
        case $1 in
        --suite) SUITE=$2; shift 2 ;;
        --deb) DEB=$(realpath "$2"); shift 2 ;;
        --baseline) BASELINE=$2; shift 2 ;;
        --levels) LEVELS=$2; shift 2 ;;
        --executions) EXECUTIONS=$2; shift 2 ;;
        --backlog) BACKLOGS=$2; shift 2 ;;
        --poll-burst) POLL_BURSTS=$2; shift 2 ;;
        --nice) NICES=$2; shift 2 ;;
        -n) NREQ=$2; shift 2 ;;
        --booted-only) PHASES=booted; shift ;;
        --activate-only) PHASES=activate; shift ;;
        --keep) KEEP=1; shift ;;
        --rush) RUSH=1; shift ;;
        --rush-seconds) RUSH_SECONDS=$2; shift 2 ;;
        --rush-levels) RUSH_LEVELS=$2; shift 2 ;;
        --head-binary) HEAD_BIN=$(realpath "$2"); shift 2 ;;
        --baseline-binary) BASE_BIN=$(realpath "$2"); shift 2 ;;
        *) sed -n '3,/^set -euo/{/^set/!p}' "$0" >&2; exit 2 ;;
        esac
done
# --rush: the closed loop only at the levels asked for.
[ -n "$LEVELS" ] || [ "$RUSH" = 1 ] || LEVELS=16,64,128,256
case $SUITE in
bookworm) PHASES=${PHASES:-booted activate} ;;
trixie)
        # The activator runs on this (Debian 12) host: a .deb built for 13 is not for it.
        [ "${PHASES:-booted}" = booted ] || { echo "burst-bench: --suite $SUITE is booted only" >&2; exit 2; }
        PHASES=booted ;;
*) echo "burst-bench: --suite bookworm or trixie" >&2; exit 2 ;;
esac
# shellcheck source=lib.sh
. "$BURST_DIR/lib.sh"
[ "$(id -u)" = 0 ] || die "must run as root"

MEMCGS=()
burst_stop_container() {
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                kill -TERM "$NSPAWN_PID" 2>/dev/null || true
                for _ in $(seq 1 30); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
}
# Stop the container before its memory cgroup can go; then lib.sh's clean-up.
burst_exit() {
        local rc=$? cg
        burst_stop_container
        for cg in "${MEMCGS[@]}"; do
                for _ in $(seq 1 20); do rmdir "$cg" 2>/dev/null && break; sleep 0.5; done
        done
        (exit $rc)
        cj_cleanup
}

# A memory cgroup of its own under this process's (v1 memory controller
# where the host has one, else cgroup v2); prints its directory.
burst_memcg() {
        local rel cg
        if [ -d /sys/fs/cgroup/memory ] && rel=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup) && [ -n "$rel" ]; then
                cg=/sys/fs/cgroup/memory${rel%/}/$1
        else
                cg=/sys/fs/cgroup/$1
        fi
        mkdir -p "$cg"
        MEMCGS+=("$cg")
        echo "$cg"
}

# codejaild from `git archive REF` (the baseline: "today").
burst_build_binary() { # REF DEST
        local src=$WORK/build-$1
        say "building codejaild at $1 ($(git -C "$TOP" rev-parse --short "$1"))"
        mkdir -p "$src"
        git -C "$TOP" archive "$1" | tar -x -C "$src"
        (cd "$src" && autoreconf -fi >/dev/null 2>&1 && ./configure -q PYTHON_BIN=/usr/bin/python3 >/dev/null &&
                make src/seccomp-bpf.h >"$src/make.log" 2>&1 && make -j"$(nproc)" src/codejaild >>"$src/make.log" 2>&1) ||
                { tail -20 "$src/make.log" >&2; die "building $1 failed"; }
        cp "$src/src/codejaild" "$2"
}

# REF's codejaild built in the cached build tree of another release
# (lib.sh cj_build_tree, as its .deb is): that release's compiler and
# libraries, as the container runs them.
burst_build_binary_in_tree() { # SUITE REF DEST
        local suite=$1 ref=$2 run=$WORK/baserun merged
        [ -d "$WORK/src" ] || { mkdir -p "$WORK/src" && git -C "$TOP" archive HEAD | tar -x -C "$WORK/src"; }
        cj_heavy_begin "building $ref's codejaild in the $suite tree"
        cj_build_tree "$suite" "$WORK/src"
        say "building codejaild at $ref ($(git -C "$TOP" rev-parse --short "$ref")) in the $suite tree"
        mkdir -p "$run/upper" "$run/work" "$run/root"
        merged=$run/root
        mount -t overlay overlay -o "lowerdir=$BUILD_ROOT,upperdir=$run/upper,workdir=$run/work" "$merged"
        CJ_MOUNTS+=("$merged")
        mkdir -p "$merged/build/ref"
        git -C "$TOP" archive "$ref" | tar -x -C "$merged/build/ref"
        # shellcheck disable=SC2016
        systemd-nspawn -q --register=no --keep-unit -M "cjr$$" -D "$merged" --chdir=/build/ref sh -c '
                autoreconf -fi >/dev/null 2>&1 && ./configure -q PYTHON_BIN=/usr/bin/python3 >/dev/null &&
                        make src/seccomp-bpf.h && make -j"$(nproc)" src/codejaild' >"$WORK/build-baseline-$suite.log" 2>&1 ||
                { tail -20 "$WORK/build-baseline-$suite.log" >&2; die "building $ref in the $suite tree failed"; }
        cp "$merged/build/ref/src/codejaild" "$3"
        umount "$merged"
        rm -rf "$run"
        cj_heavy_end
}

# REF's socket and instance units as cjbase.socket / cjbase@.service on
# $2, running /usr/local/lib/codejail-baseline/codejaild.
burst_baseline_units() { # REF PORT
        local d=$MERGED/etc/systemd/system
        git -C "$TOP" show "$1:units/codejail.socket" |
                sed -e "s|^ListenStream=.*|ListenStream=127.0.0.1:$2|" -e '/^Also=/d' -e '/^Wants=/d' \
                    -e "s|^Description=.*|Description=codejail baseline $1 listener|" >"$d/cjbase.socket"
        git -C "$TOP" show "$1:units/codejail@.service" |
                sed -e "s|^ExecStart=.*|ExecStart=/usr/local/lib/codejail-baseline/codejaild|" \
                    -e "s|^SyslogIdentifier=.*|SyslogIdentifier=codejail-baseline|" >"$d/cjbase@.service"
}

# The installed units again, on $2, with max_concurrent_executions=$1.
burst_executions_units() { # N PORT
        /usr/bin/python3 - "$MERGED/etc/codejail-service" "$1" <<'PY'
import json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
c = json.load(open(os.path.join(d, "codejail.json")))
with open(os.path.join(d, f"burst-{n}.json"), "w") as f:
    json.dump(dict(c, max_concurrent_executions=n), f)
os.chmod(os.path.join(d, f"burst-{n}.json"), 0o600)
PY
        burst_socket_units "exec$1" "$2" "Service.LoadCredential=codejail.json:/etc/codejail-service/burst-$1.json"
}

# The installed units again as cj$1.socket on $2, with each KEY=VALUE of
# the rest set in [Socket], or with Service.KEY=VALUE in cj$1@.service's
# [Service] (replaced, or added when the unit has no such key).
burst_socket_units() { # NAME PORT KEY=VALUE...
        local d=$MERGED/etc/systemd/system name=cj$1 port=$2 kv f sect
        shift 2
        sed -e "s|^ListenStream=.*|ListenStream=127.0.0.1:$port|" -e '/^Also=/d' -e '/^Wants=/d' \
            "$MERGED/lib/systemd/system/codejail.socket" >"$d/$name.socket"
        cp "$MERGED/lib/systemd/system/codejail@.service" "$d/$name@.service"
        for kv in "$@"; do
                f=$d/$name.socket sect=Socket
                [[ $kv != Service.* ]] || { f=$d/$name@.service sect=Service kv=${kv#Service.}; }
                if grep -q "^${kv%%=*}=" "$f"; then
                        sed -i "s|^${kv%%=*}=.*|$kv|" "$f"
                else
                        sed -i "/^\[$sect\]/a $kv" "$f"
                fi
                grep -qx "$kv" "$f" || die "$f: could not set $kv"
        done
        ln -sf "/etc/systemd/system/$name.socket" "$d/sockets.target.wants/$name.socket"
}

ct_target() { # NAME LABEL PORT SOCKET UNITGLOB CGROUP
        cat <<EOF
{"name": "$1", "label": "$2", "port": $3, "cpu_pid": $LEADER, "cgroup": "$6",
 "state_cmd": ["nsenter", "-t", "$LEADER", "-a", "--", "systemctl", "is-active", "$4"],
 "restart_cmd": ["nsenter", "-t", "$LEADER", "-a", "--", "sh", "-c", "systemctl reset-failed $4; systemctl restart $4"],
 "instances_cmd": ["nsenter", "-t", "$LEADER", "-a", "--", "sh", "-c", "systemctl list-units --no-legend --plain '$5' | wc -l"],
 "journal_cmd": ["nsenter", "-t", "$LEADER", "-a", "--", "journalctl"]}
EOF
}

phase_booted() {
        local cg port_base spec targets base_bin=$WORK/codejaild-baseline-$SUITE
        cj_build_deb_for "$SUITE"
        cj_rootfs "$SUITE"
        PORT=$(cj_free_port)
        cj_install
        # A context whose executions outlive the memory measurement.
        cat >"$MERGED/etc/codejail-service/codejail.json" <<'EOF'
{"enabled": true, "limit_overrides": {"burst-bench-hold": {"CPU": 60, "REALTIME": 60}}}
EOF
        chmod 0600 "$MERGED/etc/codejail-service/codejail.json"
        cj_socket_port "$PORT"
        cj_nspawn_run systemctl enable codejail.socket >/dev/null 2>&1 || die "systemctl enable codejail.socket failed"
        targets=""
        if [ -n "$BASELINE" ]; then
                mkdir -p "$MERGED/usr/local/lib/codejail-baseline"
                if [ "$SUITE" = bookworm ]; then
                        [ -x "$WORK/codejaild-baseline" ] || burst_build_binary "$BASELINE" "$WORK/codejaild-baseline"
                        cp "$WORK/codejaild-baseline" "$base_bin"
                else
                        burst_build_binary_in_tree "$SUITE" "$BASELINE" "$base_bin"
                fi
                cp "$base_bin" "$MERGED/usr/local/lib/codejail-baseline/codejaild"
                port_base=$(cj_free_port)
                while [ "$port_base" = "$PORT" ]; do port_base=$(cj_free_port); done
                burst_baseline_units "$BASELINE" "$port_base"
                mkdir -p "$MERGED/etc/systemd/system/sockets.target.wants"
                ln -sf /etc/systemd/system/cjbase.socket "$MERGED/etc/systemd/system/sockets.target.wants/cjbase.socket"
        fi
        local n p exec_ports=()
        mkdir -p "$MERGED/etc/systemd/system/sockets.target.wants"
        for n in ${EXECUTIONS//,/ }; do
                p=$(cj_free_port)
                while [ "$p" = "$PORT" ] || [ "$p" = "${port_base:-}" ]; do p=$(cj_free_port); done
                burst_executions_units "$n" "$p"
                exec_ports+=("$n=$p")
        done
        # Socket variants, each NAME|LABEL|KEY=VALUE..., on a port of its own.
        local variants=() sock_ports=() v name label kvs used="$PORT ${port_base:-} ${exec_ports[*]#*=}"
        for n in ${BACKLOGS//,/ }; do variants+=("back$n|the socket's Backlog=$n|Backlog=$n"); done
        for n in ${POLL_BURSTS//,/ }; do
                variants+=("poll$n|the socket's PollLimitBurst=$n per 2 s|PollLimitIntervalSec=2s PollLimitBurst=$n")
        done
        for n in ${NICES//,/ }; do variants+=("nice$n|the instances' Nice=$n|Service.Nice=$n"); done
        for v in "${variants[@]}"; do
                IFS='|' read -r name label kvs <<<"$v"
                p=$(cj_free_port)
                while [[ " $used " == *" $p "* ]]; do p=$(cj_free_port); done
                used+=" $p"
                # shellcheck disable=SC2086 # KEY=VALUE words
                burst_socket_units "$name" "$p" $kvs
                sock_ports+=("$name=$p=$label")
        done
        # The whole container in a memory cgroup of its own: this shell
        # moves there only while nspawn starts, and back.
        cg=$(burst_memcg "cj-burst-ct-$$")
        local home
        home=$(dirname "$cg")
        echo $$ >"$cg/cgroup.procs"
        cj_boot
        echo $$ >"$home/cgroup.procs"
        cj_wait_health "http://127.0.0.1:$PORT" || exit 1
        [ -z "$BASELINE" ] || cj_wait_health "http://127.0.0.1:$port_base" || exit 1
        local rel
        rel="$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$MERGED/etc/os-release"), $(in_ct systemctl --version | head -1)"
        say "container up ($rel): codejail.socket on $PORT$([ -z "$BASELINE" ] || echo ", $BASELINE's on $port_base"); nproc $(nproc)"
        in_ct systemctl show codejail.socket -p MaxConnections -p MaxConnectionsPerSource -p Backlog \
                -p TriggerLimitIntervalUSec -p TriggerLimitBurst | tr '\n' ' '
        echo
        spec=$WORK/burst-booted.json
        {
                echo '{"targets": ['
                if [ -n "$BASELINE" ]; then
                        ct_target today "booted $rel: $BASELINE's codejaild and units ($(git -C "$TOP" rev-parse --short "$BASELINE"))" \
                                "$port_base" cjbase.socket 'cjbase@*' "$cg"
                        echo ","
                fi
                ct_target admission "booted $rel: the .deb $(basename "$DEB") ($(git -C "$TOP" rev-parse --short HEAD))" \
                        "$PORT" codejail.socket 'codejail@*' "$cg"
                for a in "${exec_ports[@]}"; do
                        echo ","
                        ct_target "admission-${a%%=*}" "booted: this tree's .deb, max_concurrent_executions ${a%%=*}" \
                                "${a#*=}" "cjexec${a%%=*}.socket" "cjexec${a%%=*}@*" "$cg"
                done
                for a in "${sock_ports[@]}"; do
                        n=${a%%=*} p=${a#*=}
                        echo ","
                        ct_target "$n" "booted: this tree's .deb, ${p#*=}" "${p%%=*}" "cj$n.socket" "cj$n@*" "$cg"
                done
                echo ']}'
        } >"$spec"
        # Warm-up: page cache, the first spawn of each unit.
        /usr/bin/python3 "$BURST_DIR/burst_bench.py" bench "$spec" --levels 4 -n 12 >/dev/null || true
        if [ -n "$LEVELS" ]; then
                say "booted ($SUITE): closed loop at levels $LEVELS, $NREQ requests each"
                /usr/bin/python3 "$BURST_DIR/burst_bench.py" bench "$spec" --levels "$LEVELS" -n "$NREQ" \
                        --json "$WORK/burst-booted-$SUITE-result.json" | tee "$WORK/burst-booted-$SUITE.log"
        fi
        if [ "$RUSH" = 1 ]; then
                say "booted ($SUITE): rush, LMS-like students at $RUSH_LEVELS, $RUSH_SECONDS s per run"
                /usr/bin/python3 "$BURST_DIR/burst_bench.py" rush "$spec" --rush-seconds "$RUSH_SECONDS" \
                        --rush-levels "$RUSH_LEVELS" --json "$WORK/burst-booted-rush-$SUITE-result.json" |
                        tee "$WORK/burst-booted-rush-$SUITE.log"
        else
                say "booted: memory of waiting instances"
                /usr/bin/python3 "$BURST_DIR/burst_bench.py" memory "$spec" --context burst-bench-hold |
                        tee -a "$WORK/burst-booted-$SUITE.log"
        fi
        in_ct journalctl -b -u codejail.socket -u cjbase.socket --no-pager -o short-precise >"$WORK/sockets.log" 2>&1 || true
        grep -E 'Trigger limit|Too many' "$WORK/sockets.log" | sed 's/^.*systemd\[1\]: //' | sort | uniq -c | sort -rn | head -5 || true
}

# Inside a loopback-only network namespace (and PID namespace): both
# binaries under systemd-socket-activate, each activator in its memory cgroup.
phase_activate_inner() { # T HEAD_BINARY BASELINE_BINARY|"" CG_HEAD CG_BASELINE
        local T=$1 port=18080 targets="" sep="" i=0 name label sa cg b
        ip link set lo up
        mkdir -p "$T/state"
        echo "{\"enabled\": true, \"state_dir\": \"$T/state\", \"health_max_age_s\": 86400}" >"$T/config.json"
        "$2" --config "$T/config.json" --selfcheck >"$T/selfcheck.out" 2>&1 || { cat "$T/selfcheck.out" >&2; exit 1; }
        for b in baseline head; do
                if [ "$b" = head ]; then
                        name=admission label="systemd-socket-activate: this tree's codejaild (admission control)"
                        bin=$2 cg=$4
                else
                        [ -n "$3" ] || continue
                        name=today label="systemd-socket-activate: $BASELINE's codejaild (today)"
                        bin=$3 cg=$5
                fi
                i=$((i + 1))
                systemd-socket-activate -l "127.0.0.1:$((port + i))" -a "$bin" --config "$T/config.json" 2>"$T/sa-$name.log" &
                sa=$!
                echo "$sa" >"$cg/cgroup.procs"
                for _ in $(seq 100); do ss -Hltn "sport = :$((port + i))" | grep -q . && break; sleep 0.05; done
                targets+="$sep{\"name\": \"$name\", \"label\": \"$label\", \"port\": $((port + i)), \"cpu_pid\": $sa,"
                targets+=" \"cgroup\": \"$cg\", \"instances_pid\": $sa, \"log\": \"$T/sa-$name.log\"}"
                sep=", "
        done
        echo "{\"targets\": [$targets]}" >"$T/spec.json"
        /usr/bin/python3 "$BURST_DIR/burst_bench.py" bench "$T/spec.json" --levels 4 -n 12 >/dev/null || true
        if [ -n "$LEVELS" ]; then
                /usr/bin/python3 "$BURST_DIR/burst_bench.py" bench "$T/spec.json" --levels "$LEVELS" -n "$NREQ" \
                        --json "$T/result.json" | tee "$T/closed.log"
        fi
        if [ "$RUSH" = 1 ]; then
                /usr/bin/python3 "$BURST_DIR/burst_bench.py" rush "$T/spec.json" --rush-seconds "$RUSH_SECONDS" \
                        --rush-levels "$RUSH_LEVELS" --json "$T/rush.json" | tee "$T/rush.log"
        fi
}

phase_activate() {
        local T=$WORK/activate head=$WORK/codejaild-head
        mkdir -p "$T"
        if [ -n "$HEAD_BIN" ]; then
                cp "$HEAD_BIN" "$head"
        else
                [ -n "$DEB" ] || CJ_LINTIAN=0 cj_build_deb
                mkdir -p "$WORK/deb-x"
                dpkg-deb -x "$DEB" "$WORK/deb-x"
                cp "$WORK/deb-x/usr/bin/codejaild" "$head"
        fi
        [ -z "$BASE_BIN" ] || cp "$BASE_BIN" "$WORK/codejaild-baseline"
        if [ -n "$BASELINE" ] && [ ! -x "$WORK/codejaild-baseline" ]; then
                burst_build_binary "$BASELINE" "$WORK/codejaild-baseline"
        fi
        local cg_head cg_base
        cg_head=$(burst_memcg "cj-burst-sa-head-$$")
        cg_base=$(burst_memcg "cj-burst-sa-base-$$")
        say "systemd-socket-activate:${LEVELS:+ closed loop at levels $LEVELS, $NREQ requests each}$([ "$RUSH" = 0 ] || echo " rush at $RUSH_LEVELS, $RUSH_SECONDS s per run")"
        export -f phase_activate_inner
        export BURST_DIR LEVELS NREQ BASELINE RUSH RUSH_SECONDS RUSH_LEVELS
        unshare --net --pid --fork --mount-proc -- bash -c 'phase_activate_inner "$@"' _ \
                "$T" "$head" "$([ -z "$BASELINE" ] || echo "$WORK/codejaild-baseline")" "$cg_head" "$cg_base" |
                tee "$WORK/burst-activate-all.log"
        cp "$T/closed.log" "$WORK/burst-activate.log" 2>/dev/null || true
        cp "$T/result.json" "$WORK/burst-activate-result.json" 2>/dev/null || true
        cp "$T/rush.log" "$WORK/burst-activate-rush.log" 2>/dev/null || true
        cp "$T/rush.json" "$WORK/burst-activate-rush-result.json" 2>/dev/null || true
}

cj_need_tools
cj_workdir
trap burst_exit EXIT
case " $PHASES " in *" booted "*) CJ_LINTIAN=0 phase_booted; burst_stop_container ;; esac
case " $PHASES " in *" activate "*) phase_activate ;; esac
say "done: $FAILED failure(s)"
[ "$FAILED" = 0 ]
