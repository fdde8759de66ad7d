#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Booted-systemd benchmark: in ONE boot of the Debian 12 container
# of nspawn-test.sh, side by side and interleaved, `x = x + 1` and GET
# /health/ through
#   (a) the installed, hardened codejail.socket / codejail@.service;
#   (b) the same binary under a socket + service pair with no hardening at
#       all (root, --config);
#   (c) the floor: /usr/bin/python3 -E -B jailed_code on the wrapper the
#       service really runs, same stdin, run inside the container;
# plus one socket + service pair per option group (the installed unit plus
# some systemd options, or (d) the unit as it was first shipped, with its
# own throughput row; generated under /run/systemd/system in the container,
# never touching the package's files), each with its `systemd-analyze
# security` exposure.
# Prints two markdown tables (tests/integration/nspawn_bench.py).
#
#   tests/integration/nspawn-bench.sh [--suite bookworm|trixie] [--deb FILE] [--keep]
#                                     [-n N] [--n-options N] [--seconds S] [--clients C] [--quick]
#                                     [--guard] [--profile N [--profile-only]] [--tp-extra V,...]
#     --suite     the Debian release of the container (default bookworm,
#                 systemd 252; trixie: systemd 257), with the .deb built
#                 for it (lib.sh cj_build_deb_for)
#     -n          sequential requests of (a), (b), (c)        (default 200)
#     --n-options sequential requests per option variant      (default 60)
#     --seconds   throughput time per variant (a), (b), (c)   (default 15)
#     --quick     -n 200 --n-options 20 --seconds 6, and only the installed
#                 and the plain unit (the CI tier)
#     --tp-extra  option variants also measured at N clients (comma-separated)
#     --guard     exit 3 when the installed units miss their targets by more
#                 than the margins of nspawn_bench.py (--guard-*)
#     --profile N perf record -a around N requests per variant, each alone
#                 (nspawn_profile.py): CPU per connection by process, system
#                 call and function; --profile-only skips the timed bench
#     CODEJAIL_TEST_CACHE, CODEJAIL_TEST_MIRROR as for nspawn-test.sh.
#     CODEJAIL_BENCH_VARIANTS  the option variants to measure (default: all below)
#     BENCH_PROFILE_VARIANTS   comma-separated, the variants --profile records
#                              (default: hardened and every measured variant)
#
# nspawn-test.sh sources this file and calls bench_in_container in its own
# boot when CODEJAIL_BENCH=1 (after its journal checks).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# --quick: the CI tier's counts (>= 200 sequential requests where it matters).
BENCH_QUICK="-n 200 --n-options 20 --seconds 6"

# The option groups measured, relative to the installed codejail@.service
# (which asks systemd only for what is cheap per connection).
# opt-NAME: the installed unit plus that one option (value in opt_value);
# no-NAME: the installed unit without it; with-*, pn-seccomp, identity-only:
# bench_labels below.
# The last group takes the installed unit apart option by option (what is
# left of the installed-over-plain gap once each is gone); identity-only:
# everything gone but the service user, its capabilities, no_new_privs,
# the state directory and the credential.
BENCH_VARIANTS=${CODEJAIL_BENCH_VARIANTS:-"plain previous pn-seccomp with-seccomp opt-PrivateNetwork with-pn-nomounts \
with-systemcallfilter no-LoadCredential with-mountns opt-PrivateDevices opt-ProtectKernelTunables opt-ProtectHostname \
no-User no-RuntimeDirectory no-IPAddressDeny no-DevicePolicy no-resources no-SecureBits no-KeyringMode \
no-RemoveIPC no-AppArmorProfile no-journal identity-only"}
# --quick (CI): the guard needs only the installed and the plain unit.
BENCH_QUICK_VARIANTS=${CODEJAIL_BENCH_VARIANTS:-plain}

# Runs inside the container: generates the variant units. Arguments: name=port ...
bench_gen_script() {
        cat <<'EOF'
set -euo pipefail
SRC=/lib/systemd/system/codejail@.service
SOCK=/lib/systemd/system/codejail.socket
D=/run/systemd/system
mkdir -p "$D"
add() { sed -i "/^\[Service\]/a $2" "$1"; }
del() { local f=$1 o; shift; for o in $*; do sed -i "/^$o=/d" "$f"; done; }
# systemd's system-call allow-list, as the unit as first shipped had it.
filter_opts() {
        # (without SystemCallArchitectures=native systemd builds the list for three ABIs)
        add "$1" "SystemCallArchitectures=native"
        add "$1" "SystemCallFilter=$(opt_value SystemCallFilter)"
        add "$1" "SystemCallFilter=~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap"
        add "$1" "SystemCallErrorNumber=EPERM"
}
# systemd's seven cheapest seccomp-based options, which codejaild's own
# filter duplicates (the installed unit had them, with PrivateNetwork=,
# until systemd 257 was measured).
seccomp7_opts() {
        local f=$1
        add "$f" "SystemCallArchitectures=native"
        add "$f" "RestrictAddressFamilies=AF_UNIX"
        add "$f" "RestrictNamespaces=mnt pid net ipc uts"
        add "$f" "LockPersonality=yes"
        add "$f" "MemoryDenyWriteExecute=yes"
        add "$f" "RestrictRealtime=yes"
        add "$f" "RestrictSUIDSGID=yes"
}
# All of systemd's seccomp-based options, as the unit as first shipped had them.
seccomp_opts() {
        local f=$1
        add "$f" "SystemCallArchitectures=native"
        add "$f" "RestrictAddressFamilies=AF_UNIX"
        add "$f" "RestrictNamespaces=mnt pid net ipc uts"
        add "$f" "LockPersonality=yes"
        add "$f" "MemoryDenyWriteExecute=yes"
        add "$f" "RestrictRealtime=yes"
        add "$f" "RestrictSUIDSGID=yes"
        filter_opts "$f"
}
opt_value() {
        case $1 in
        SystemCallArchitectures) echo native ;;
        RestrictAddressFamilies) echo AF_UNIX ;;
        RestrictNamespaces) echo "mnt pid net ipc uts" ;;
        SystemCallFilter) echo "@system-service @mount seccomp landlock_create_ruleset landlock_add_rule landlock_restrict_self" ;;
        *) echo yes ;;
        esac
}
# The options that each need a systemd mount namespace per connection.
mountns_opts() {
        local o
        for o in PrivateTmp=yes PrivateDevices=yes PrivateIPC=yes PrivateMounts=yes ProtectSystem=strict \
                ProtectHome=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
                ProtectControlGroups=yes ProtectClock=yes ProtectHostname=yes ProtectProc=invisible ProcSubset=pid; do
                add "$1" "$o"
        done
}
python3 - <<'PY'
import json, os
c = json.load(open("/etc/codejail-service/codejail.json"))
# The plain unit runs as root, but codejaild keeps only the jail's four
# capabilities (no CAP_DAC_OVERRIDE): its own state dir too.
with open("/etc/codejail-service/bench-plain.json", "w") as f:
    json.dump(dict(c, state_dir="/run/cjbench-plain", health_max_age_s=86400), f)
os.chmod("/etc/codejail-service/bench-plain.json", 0o600)
with open("/etc/codejail-service/bench-open.json", "w") as f:   # no-LoadCredential: read directly
    json.dump(c, f)
os.chmod("/etc/codejail-service/bench-open.json", 0o644)
# no-RuntimeDirectory: a state dir of its own. The shared one is moved under
# /run/private (0700) while a DynamicUser= variant (previous) runs and moved
# back only by units that name it in RuntimeDirectory=.
with open("/etc/codejail-service/bench-nrd.json", "w") as f:
    json.dump(dict(c, state_dir="/run/cjbench-nrd", health_max_age_s=86400), f)
os.chmod("/etc/codejail-service/bench-nrd.json", 0o600)
PY
mkdir -p /run/cjbench-plain /run/cjbench-nrd
cp /run/codejail-service/health.json /run/cjbench-plain/
cp /run/codejail-service/health.json /run/cjbench-nrd/
chown -R codejail:codejail /run/cjbench-nrd
for arg in "$@"; do
        v=${arg%%=*} port=${arg#*=}
        f=$D/cjb$v@.service
        case $v in
        plain)
                printf '[Unit]\nDescription=codejail bench: no hardening\nCollectMode=inactive-or-failed\n[Service]\nType=simple\nExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-plain.json\n' >"$f" ;;
        *)
                cp "$SRC" "$f"
                case $v in
                previous) add "$f" "DynamicUser=yes"; mountns_opts "$f"; seccomp_opts "$f"; add "$f" "PrivateNetwork=yes" ;;
                pn-seccomp) seccomp7_opts "$f"; add "$f" "PrivateNetwork=yes" ;;
                with-seccomp) seccomp7_opts "$f" ;;
                with-pn-nomounts) add "$f" "PrivateNetwork=yes"; add "$f" "PrivateMounts=no" ;;
                with-mountns) add "$f" "PrivateTmp=yes"; add "$f" "ProtectSystem=strict"; add "$f" "ProtectHome=yes" ;;
                with-systemcallfilter) filter_opts "$f" ;;
                opt-*) add "$f" "${v#opt-}=$(opt_value "${v#opt-}")" ;;
                # root (no ambient capabilities needed): its own state dir,
                # so systemd never chowns the installed unit's to root.
                no-User) del "$f" User Group RuntimeDirectory RuntimeDirectoryMode RuntimeDirectoryPreserve
                        sed -i 's|^LoadCredential=.*|LoadCredential=codejail.json:/etc/codejail-service/bench-plain.json|' "$f" ;;
                no-RuntimeDirectory) del "$f" RuntimeDirectory RuntimeDirectoryMode RuntimeDirectoryPreserve
                        sed -i 's|^LoadCredential=.*|LoadCredential=codejail.json:/etc/codejail-service/bench-nrd.json|' "$f" ;;
                no-resources) del "$f" MemoryMax TasksMax RuntimeMaxSec LimitCORE ;;
                no-journal) add "$f" "StandardOutput=null"; add "$f" "StandardError=null" ;;
                identity-only) del "$f" IPAddressDeny DevicePolicy MemoryMax TasksMax RuntimeMaxSec \
                        LimitCORE SecureBits KeyringMode RemoveIPC AppArmorProfile UMask ;;
                no-LoadCredential) del "$f" LoadCredential
                        sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-open.json|' "$f" ;;
                no-*) del "$f" "${v#no-}" ;;
                *) echo "unknown variant $v" >&2; exit 1 ;;
                esac ;;
        esac
        sed -e "s|^ListenStream=.*|ListenStream=127.0.0.1:$port|" -e '/^Also=/d' -e '/^Wants=/d' \
                -e "s|^Description=.*|Description=codejail bench $v|" "$SOCK" >"$D/cjb$v.socket"
done
systemctl daemon-reload
for arg in "$@"; do systemctl start "cjb${arg%%=*}.socket"; done
EOF
}

bench_labels() {
        case $1 in
        hardened) echo "the installed unit (cheap options only; codejaild hardens itself)" ;;
        plain) echo "no hardening options at all, root" ;;
        previous) echo "the unit as first shipped: DynamicUser + every mount-namespace option + every seccomp option" ;;
        with-mountns) echo "installed + PrivateTmp, ProtectSystem=strict, ProtectHome (one minimal systemd mount namespace)" ;;
        with-systemcallfilter) echo "installed + systemd's SystemCallFilter= allow-list (as first shipped)" ;;
        opt-*) echo "installed + ${1#opt-}= alone" ;;
        pn-seccomp) echo "installed + PrivateNetwork= + systemd's seven seccomp options (the previous installed unit)" ;;
        with-seccomp) echo "installed + SystemCallArchitectures=, RestrictAddressFamilies=, RestrictNamespaces=, LockPersonality=, MemoryDenyWriteExecute=, RestrictRealtime=, RestrictSUIDSGID=" ;;
        with-pn-nomounts) echo "installed + PrivateNetwork= + PrivateMounts=no (systemd >= 254: PrivateNetwork= alone implies a mount namespace)" ;;
        no-User) echo "installed minus User=, Group=, RuntimeDirectory= (root, the same ambient capabilities; its own state dir)" ;;
        no-RuntimeDirectory) echo "installed minus RuntimeDirectory= (a state dir of its own, made beforehand)" ;;
        no-resources) echo "installed minus MemoryMax=, TasksMax=, RuntimeMaxSec=, LimitCORE=" ;;
        no-journal) echo "installed + StandardOutput=null, StandardError=null (no journal stream)" ;;
        identity-only) echo "installed minus every option but User=, capabilities, NoNewPrivileges=, RuntimeDirectory=, LoadCredential=" ;;
        no-*) echo "installed minus ${1#no-}=" ;;
        esac
}

# In a booted container (LEADER, WORK, TOP set, /health/ 200 on $1 = port of
# codejail.socket): generate the variants and run the measurement.
# Further arguments go to nspawn_bench.py.
bench_in_container() {
        local port_a=$1 v p exposure spec
        shift
        local variants=$BENCH_VARIANTS
        case " $variants " in *" plain "*) ;; *) variants="plain $variants" ;; esac
        local args=() ports=()
        for v in $variants; do
                p=$(cj_free_port)
                while [[ " ${ports[*]} " == *" $p "* ]] || [ "$p" = "$port_a" ]; do p=$(cj_free_port); done
                ports+=("$p")
                args+=("$v=$p")
        done
        say "bench: generating ${#args[@]} variant units under /run/systemd/system"
        bench_gen_script | in_ct bash -s -- "${args[@]}" || { fail "bench: generating the variant units failed"; return 1; }
        spec=$WORK/bench-spec.json
        {
                printf '{"leader": %s, "hardened": "hardened", "plain": "plain", "variants": [' "$LEADER"
                exposure=$(in_ct systemd-analyze security codejail@.service 2>/dev/null |
                        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
                printf '{"name": "hardened", "port": %s, "label": "%s", "exposure": "%s"}' \
                        "$port_a" "$(bench_labels hardened)" "$exposure"
                for a in "${args[@]}"; do
                        v=${a%%=*} p=${a#*=}
                        exposure=$(in_ct systemd-analyze security "cjb$v@.service" 2>/dev/null |
                                sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
                        printf ', {"name": "%s", "port": %s, "label": "%s", "exposure": "%s"}' \
                                "$v" "$p" "$(bench_labels "$v")" "${exposure:-?}"
                done
                printf ']}\n'
        } >"$spec"
        # Every variant answers /health/ before the clock starts.
        for a in "${args[@]}"; do
                curl -s -o /dev/null --max-time 10 "http://127.0.0.1:${a#*=}/health/" ||
                        { fail "bench: variant ${a%%=*} does not answer"; in_ct journalctl -b -n 30 --no-pager >&2; return 1; }
        done
        local t=$(date +%s) rc=0
        if [ "${BENCH_PROFILE_ONLY:-0}" != 1 ]; then
                say "bench: measuring (hardened, plain, floor, ${#args[@]} - 1 option variants)"
                /usr/bin/python3 "$BENCH_DIR/nspawn_bench.py" "$spec" --json "$WORK/bench.json" "$@" | tee "$WORK/bench.log" ||
                        rc=${PIPESTATUS[0]}
                case $rc in
                0) say "bench: done in $(( $(date +%s) - t )) s" ;;
                3) fail "bench: the installed units missed the guard (above)" ;;
                *) fail "bench: failed requests (see above); the service's last log lines:"
                        in_ct journalctl -b --no-pager -n 15 -t codejail -o cat >&2 || true ;;
                esac
        fi
        # Where a connection's CPU goes, per variant (perf on the host sees
        # the container's processes; its root gives their symbols).
        if [ "${BENCH_PROFILE:-0}" -gt 0 ]; then
                local pv=${BENCH_PROFILE_VARIANTS:-} a
                if [ -z "$pv" ]; then
                        pv=hardened
                        for a in "${args[@]}"; do pv+=",${a%%=*}"; done
                fi
                say "profile: perf record -a around $BENCH_PROFILE requests per variant ($pv)"
                /usr/bin/python3 "$BENCH_DIR/nspawn_profile.py" "$spec" --variants "$pv" -n "$BENCH_PROFILE" \
                        --symfs "$MERGED" --json "$WORK/profile.json" | tee "$WORK/profile.log" ||
                        fail "profile: failed requests"
        fi
        # The in-process alternative to PrivateTmp=/ProtectSystem=/ProtectHome=:
        # what a minimal mount namespace costs a process that sets it up itself.
        if command -v cc >/dev/null && cc -O2 -static -o "$WORK/mntns-cost" "$BENCH_DIR/mntns-cost.c" 2>/dev/null; then
                cp "$WORK/mntns-cost" "$MERGED/root/cjb-mntns-cost"
                echo
                echo "In-process mount namespace (mntns-cost.c, as root in the container, medians of 200):"
                in_ct /root/cjb-mntns-cost 200 /run/codejail-service | sed 's/^/    /' | tee -a "$WORK/bench.log" ||
                        fail "bench: mntns-cost failed"
                in_ct rm -f /root/cjb-mntns-cost
        else
                say "bench: no static C compiler on the host: in-process mount namespace cost not measured"
        fi
        # Leave the container as the bench found it (nspawn-test.sh purges afterwards).
        timeout 60 nsenter -t "$LEADER" -a -- sh -c 'systemctl stop "cjb*.socket" "cjb*@*.service"; rm -f /run/systemd/system/cjb*
                systemctl daemon-reload; rm -rf /etc/codejail-service/bench-*.json /run/cjbench-*' >/dev/null 2>&1 || true
}

# Sourced (nspawn-test.sh): only the functions above.
[ "${BASH_SOURCE[0]}" != "$0" ] && return 0

CJ_NAME=nspawn-bench
KEEP=0
DEB=
SUITE=bookworm
PYARGS=()
TOOLS=()
while [ $# -gt 0 ]; do
        case $1 in
        --suite) SUITE=$2; shift 2 ;;
        --deb) DEB=$(realpath "$2"); shift 2 ;;
        --keep) KEEP=1; shift ;;
        -n|--n-options|--seconds|--clients|--round|--tp-extra) PYARGS+=("$1" "$2"); shift 2 ;;
        --quick) read -ra q <<<"$BENCH_QUICK"; PYARGS+=("${q[@]}"); BENCH_VARIANTS=$BENCH_QUICK_VARIANTS; shift ;;
        --guard) PYARGS+=(--guard); shift ;;
        --profile) BENCH_PROFILE=$2; TOOLS+=(perf:linux-perf); shift 2 ;;
        --profile-only) BENCH_PROFILE_ONLY=1; shift ;;
        *) sed -n '3,41p' "$0" >&2; exit 2 ;;
        esac
done
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
[ "$(id -u)" = 0 ] || die "must run as root"
cj_need_tools "${TOOLS[@]}"
cj_workdir
CJ_LINTIAN=0 cj_build_deb_for "$SUITE"
cj_rootfs "$SUITE"
PORT=${CODEJAIL_TEST_PORT:-$(cj_free_port)}
cj_install
cat >"$MERGED/etc/codejail-service/codejail.json" <<'EOF'
{"enabled": true}
EOF
chmod 0600 "$MERGED/etc/codejail-service/codejail.json"
cj_socket_port "$PORT"
cj_nspawn_run systemctl enable codejail.socket >/dev/null 2>&1 || die "systemctl enable codejail.socket failed"
cj_boot
cj_wait_health "http://127.0.0.1:$PORT" || exit 1
say "codejail.socket on 127.0.0.1:$PORT healthy; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
bench_in_container "$PORT" "${PYARGS[@]}"
say "done: $FAILED failure(s)"
[ "$FAILED" = 0 ]
