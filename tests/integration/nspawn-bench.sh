#!/bin/bash
# Booted-systemd benchmark (issue 7): in ONE boot of the Debian 12 container
# of nspawn-test.sh, side by side and interleaved, `x = x + 1` and GET
# /health/ through
#   (a) the installed, hardened codejail.socket / codejail@.service;
#   (b) the same binary under a socket + service pair with no hardening at
#       all (root, --config);
#   (c) the floor: /usr/bin/python3 -E -B jailed_code on the wrapper the
#       service really runs, same stdin, run inside the container;
# plus one socket + service pair per option group of codejail@.service
# (the installed unit minus some options; generated under
# /run/systemd/system in the container, never touching the package's files),
# each with its `systemd-analyze security` exposure; and (d)
# units/codejail@.service.candidate when the checkout has one (with its own
# throughput row).
# Prints two markdown tables (tests/integration/nspawn_bench.py).
#
#   tests/integration/nspawn-bench.sh [--deb FILE] [--keep] [-n N] [--n-options N]
#                                     [--seconds S] [--clients C] [--quick]
#     -n          sequential requests of (a), (b), (c)        (default 200)
#     --n-options sequential requests per option variant      (default 60)
#     --seconds   throughput time per variant (a), (b), (c)   (default 15)
#     --quick     -n 200 --n-options 20 --seconds 6 (the CI tier)
#     CODEJAIL_TEST_CACHE, CODEJAIL_TEST_MIRROR as for nspawn-test.sh.
#     CODEJAIL_BENCH_VARIANTS  the option variants to measure (default: all below)
#
# nspawn-test.sh sources this file and calls bench_in_container in its own
# boot when CODEJAIL_BENCH=1 (after its journal checks).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# --quick: the CI tier's counts (>= 200 sequential requests where it matters).
BENCH_QUICK="-n 200 --n-options 20 --seconds 6"

# The option groups measured, relative to the installed codejail@.service.
BENCH_VARIANTS=${CODEJAIL_BENCH_VARIANTS:-"plain nomnt static static-nomnt minmnt nonet noipdeny noseccomp nocred \
-ProtectKernelTunables -ProtectProc -PrivateDevices -ProtectClock -ProtectKernelLogs_Modules \
-ProtectControlGroups -PrivateIPC_Mounts cheap cheap-nocred cheap-noseccomp cheap-noseccomp-nocred cheap-sysfilter \
cheap-minmnt snm-devpol snm-ipc \
snm-devpol-nosysfilter snm-devpol-noseccomp snm-devpol-nocred"}

# Runs inside the container: generates the variant units. Arguments: name=port ...
bench_gen_script() {
        cat <<'EOF'
set -euo pipefail
SRC=/lib/systemd/system/codejail@.service
SOCK=/lib/systemd/system/codejail.socket
D=/run/systemd/system
mkdir -p "$D"
MOUNTNS="PrivateTmp PrivateDevices PrivateIPC PrivateMounts ProtectSystem ProtectHome ProtectKernelTunables
ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname ProtectProc ProcSubset"
SECCOMP="SystemCallFilter SystemCallErrorNumber SystemCallArchitectures RestrictAddressFamilies RestrictNamespaces
LockPersonality MemoryDenyWriteExecute RestrictRealtime RestrictSUIDSGID"
del() { local f=$1 o; shift; for o in $*; do sed -i "/^$o=/d" "$f"; done; }
add() { sed -i "/^\[Service\]/a $2" "$1"; }
# A static system user created here (the candidate's "created at install
# time"), with its own state dir: the dynamic user's lock file is 0600.
static() {
        sed -i -e '/^DynamicUser=/d' -e 's/^User=.*/User=cjbench/' -e 's/^Group=.*/Group=cjbench/' \
                -e 's/^RuntimeDirectory=.*/RuntimeDirectory=cjbench-state/' \
                -e 's|^LoadCredential=.*|LoadCredential=codejail.json:/etc/codejail-service/bench-static.json|' "$1"
}
getent passwd cjbench >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin cjbench
python3 - <<'PY'
import json, os
c = json.load(open("/etc/codejail-service/codejail.json"))
s = dict(c, state_dir="/run/cjbench-state", health_max_age_s=86400)
with open("/etc/codejail-service/bench-static.json", "w") as f:
    json.dump(s, f)
os.chmod("/etc/codejail-service/bench-static.json", 0o600)
with open("/etc/codejail-service/bench-open.json", "w") as f:   # test only: a config the instance reads itself
    json.dump(c, f)
os.chmod("/etc/codejail-service/bench-open.json", 0o644)
# The plain unit runs as root, but codejaild keeps only the jail's four
# capabilities (no CAP_DAC_OVERRIDE): its own state dir too.
with open("/etc/codejail-service/bench-plain.json", "w") as f:
    json.dump(dict(c, state_dir="/run/cjbench-plain", health_max_age_s=86400), f)
os.chmod("/etc/codejail-service/bench-plain.json", 0o600)
with open("/etc/codejail-service/bench-static-open.json", "w") as f:
    json.dump(s, f)
os.chmod("/etc/codejail-service/bench-static-open.json", 0o644)
PY
# The static user's state: the selfcheck's health.json (its age is not the
# point here: health_max_age_s above).
mkdir -p /run/cjbench-state
cp /run/codejail-service/health.json /run/cjbench-state/
chown -R cjbench:cjbench /run/cjbench-state
mkdir -p /run/cjbench-plain
cp /run/codejail-service/health.json /run/cjbench-plain/
for arg in "$@"; do
        v=${arg%%=*} port=${arg#*=}
        f=$D/cjb$v@.service
        case $v in
        plain)
                printf '[Unit]\nDescription=codejail bench: no hardening\nCollectMode=inactive-or-failed\n[Service]\nType=simple\nExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-plain.json\n' >"$f" ;;
        candidate)
                cp /root/cjb-candidate.service "$f"
                grep -q '^DynamicUser=yes' "$f" || static "$f" ;;
        *)
                cp "$SRC" "$f"
                case $v in
                nomnt) del "$f" $MOUNTNS ;;
                static) static "$f" ;;
                static-nomnt) static "$f"; del "$f" $MOUNTNS ;;
                minmnt) static "$f"; del "$f" $MOUNTNS; add "$f" "PrivateTmp=yes"; add "$f" "ProtectSystem=strict"
                        add "$f" "ProtectHome=yes" ;;
                nonet) del "$f" PrivateNetwork ;;
                noipdeny) del "$f" IPAddressDeny ;;
                noseccomp) del "$f" $SECCOMP ;;
                nocred) del "$f" LoadCredential
                        sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-open.json|' "$f" ;;
                snm-devpol) static "$f"; del "$f" $MOUNTNS; add "$f" "DevicePolicy=closed" ;;
                snm-devpol-nosysfilter) static "$f"; del "$f" $MOUNTNS SystemCallFilter SystemCallErrorNumber
                        add "$f" "DevicePolicy=closed" ;;
                snm-devpol-noseccomp) static "$f"; del "$f" $MOUNTNS $SECCOMP; add "$f" "DevicePolicy=closed" ;;
                snm-devpol-nocred) static "$f"; del "$f" $MOUNTNS LoadCredential; add "$f" "DevicePolicy=closed"
                        sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-static-open.json|' "$f" ;;
                snm-ipc) static "$f"; del "$f" $MOUNTNS; add "$f" "PrivateIPC=yes" ;;
                cheap*) static "$f"; del "$f" $MOUNTNS PrivateNetwork IPAddressDeny
                        case $v in
                        cheap-nocred) del "$f" LoadCredential
                                sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-static-open.json|' "$f" ;;
                        cheap-noseccomp) del "$f" $SECCOMP ;;
                        cheap-noseccomp-nocred) del "$f" $SECCOMP LoadCredential
                                sed -i 's|^ExecStart=.*|ExecStart=/usr/bin/codejaild --config /etc/codejail-service/bench-static-open.json|' "$f" ;;
                        cheap-sysfilter) del "$f" RestrictAddressFamilies RestrictNamespaces LockPersonality \
                                MemoryDenyWriteExecute RestrictRealtime RestrictSUIDSGID ;;
                        cheap-minmnt) add "$f" "PrivateTmp=yes"; add "$f" "ProtectSystem=strict"; add "$f" "ProtectHome=yes" ;;
                        esac ;;
                -*) del "$f" $(echo "${v#-}" | tr _ ' ' | sed -e 's/KernelLogs Modules/KernelLogs ProtectKernelModules/' \
                        -e 's/IPC Mounts/IPC PrivateMounts/' -e 's/^ProtectProc$/ProtectProc ProcSubset/') ;;
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
        hardened) echo "the installed unit (everything)" ;;
        plain) echo "no hardening options at all, root" ;;
        nomnt) echo "minus the mount-namespace options (DynamicUser still implies PrivateTmp, ProtectSystem=strict, ProtectHome=read-only)" ;;
        static) echo "static User= instead of DynamicUser" ;;
        static-nomnt) echo "static User=, minus the mount-namespace options (no mount namespace)" ;;
        minmnt) echo "static User=, mount namespace only for PrivateTmp, ProtectSystem=strict, ProtectHome" ;;
        nonet) echo "minus PrivateNetwork" ;;
        noipdeny) echo "minus IPAddressDeny (per-instance BPF)" ;;
        noseccomp) echo "minus the seccomp-based options (SystemCallFilter & co, RestrictAddressFamilies/Namespaces, MDWE, LockPersonality, RestrictRealtime/SUIDSGID)" ;;
        nocred) echo "minus LoadCredential (config file read directly)" ;;
        snm-devpol) echo "static-nomnt + DevicePolicy=closed (cgroup device filter, no /dev namespace)" ;;
        snm-devpol-nosysfilter) echo "snm-devpol minus SystemCallFilter (the other seccomp options kept)" ;;
        snm-devpol-noseccomp) echo "snm-devpol minus every seccomp-based option (codejaild's own filter only)" ;;
        snm-devpol-nocred) echo "snm-devpol minus LoadCredential" ;;
        snm-ipc) echo "static-nomnt + PrivateIPC=yes (IPC namespace alone)" ;;
        cheap) echo "static User=, minus mount-namespace options, PrivateNetwork, IPAddressDeny" ;;
        cheap-nocred) echo "cheap, minus LoadCredential" ;;
        cheap-noseccomp) echo "cheap, minus the seccomp-based options" ;;
        cheap-noseccomp-nocred) echo "cheap, minus the seccomp-based options and LoadCredential" ;;
        cheap-sysfilter) echo "cheap, seccomp-based options reduced to SystemCallFilter + SystemCallArchitectures" ;;
        cheap-minmnt) echo "cheap + PrivateTmp, ProtectSystem=strict, ProtectHome (one minimal mount namespace)" ;;
        candidate) echo "units/codejail@.service.candidate (static User=cjbench in the bench)" ;;
        -*) echo "minus ${1#-} alone" ;;
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
        [ -f "$TOP/units/codejail@.service.candidate" ] && {
                cp "$TOP/units/codejail@.service.candidate" "$MERGED/root/cjb-candidate.service" 2>/dev/null ||
                        in_ct sh -c 'cat >/root/cjb-candidate.service' <"$TOP/units/codejail@.service.candidate"
                variants+=" candidate"
        }
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
        say "bench: measuring (hardened, plain, floor, ${#args[@]} - 1 option variants)"
        local t=$(date +%s)
        if /usr/bin/python3 "$BENCH_DIR/nspawn_bench.py" "$spec" --json "$WORK/bench.json" "$@" | tee "$WORK/bench.log"; then
                say "bench: done in $(( $(date +%s) - t )) s"
        else
                fail "bench: failed requests (see above); the service's last log lines:"
                in_ct journalctl -b --no-pager -n 15 -t codejail -o cat >&2 || true
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
                systemctl daemon-reload; rm -rf /etc/codejail-service/bench-*.json /run/cjbench-* /root/cjb-candidate.service
                userdel cjbench' >/dev/null 2>&1 || true
}

# Sourced (nspawn-test.sh): only the functions above.
[ "${BASH_SOURCE[0]}" != "$0" ] && return 0

CJ_NAME=nspawn-bench
KEEP=0
DEB=
PYARGS=()
while [ $# -gt 0 ]; do
        case $1 in
        --deb) DEB=$(realpath "$2"); shift 2 ;;
        --keep) KEEP=1; shift ;;
        -n|--n-options|--seconds|--clients|--round) PYARGS+=("$1" "$2"); shift 2 ;;
        --quick) read -ra q <<<"$BENCH_QUICK"; PYARGS+=("${q[@]}"); shift ;;
        *) sed -n '2,30p' "$0" >&2; exit 2 ;;
        esac
done
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
[ "$(id -u)" = 0 ] || die "must run as root"
cj_need_tools
cj_workdir
CJ_LINTIAN=0 cj_build_deb
cj_rootfs
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
