#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real-host tier: the .deb built FOR a Debian release, installed
# the README's way into a stock guest of that release booted with the
# release's own kernel and AppArmor enforcing, under QEMU (TCG: this
# machine's KVM cannot run a stock kernel, /work/shared/NOTES-realhosts.md).
#
#   1. builds the .deb from `git archive HEAD`: bookworm on this host,
#      trixie in a cached trixie build tree (apt-get build-dep ./); lintian
#      of that release;
#   2. a cached guest image per release (kernel, systemd, AppArmor, and
#      everything the .deb Depends/Recommends: installed with no network);
#   3. boots a throw-away qcow2 overlay of it, restricted user networking
#      (the guest reaches nothing; only forwarded loopback ports reach in)
#      and a 9p share; the guest (realhost-guest.sh) installs with
#      `apt-get install ./codejail-service_*.deb`, `systemctl enable --now
#      codejail.socket`, waits for the selfcheck, opens the socket to the
#      host with the shipped drop-in example, enables the service;
#   4. from this host: /health/ over the forwarded port, then the whole
#      api_tests suite over HTTP (the host's Python is ~10x faster than the
#      guest's);
#   5. in the guest: a held-open instance and a running jailed python seen
#      from outside (uid, namespaces, NoNewPrivs, seccomp, capabilities,
#      AppArmor label), the journal, purge; then AppArmor's audit lines,
#      counted per profile (realhost_audit.py).
# Ends with one summary line per guest; exit 1 when anything failed. Results
# in $CODEJAIL_TEST_CACHE/last-realhost-<suite>[-complain]/.
#
#   tests/integration/realhost.sh [--suite bookworm|trixie] [--deb FILE] [--keep]
#                                 [--aa-mode enforce|complain]
#     no --suite   both, trixie first; only FAIL lines and the summaries are
#                  printed (each guest's whole log is in its results dir)
#     --deb        a .deb built for that suite (skips step 1)
#     --keep       keep the work dir (share, overlay disk, logs)
#     --aa-mode complain   both codejail profiles switched to complain mode
#                  after install: the run lists every access they lack
#                  (apparmor-accesses.txt in the results dir)
#     CODEJAIL_TEST_CACHE, CODEJAIL_TEST_MIRROR as for nspawn-test.sh.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=
DEB=
KEEP=0
AA_MODE=enforce
while [ $# -gt 0 ]; do
        case $1 in
        --suite) SUITE=$2; shift 2 ;;
        --deb) DEB=$(realpath "$2"); shift 2 ;;
        --keep) KEEP=1; shift ;;
        --aa-mode) AA_MODE=$2; shift 2 ;;
        *) sed -n '3,39p' "$0" >&2; exit 2 ;;
        esac
done
case $AA_MODE in enforce|complain) ;; *) echo "realhost: --aa-mode enforce|complain" >&2; exit 2 ;; esac
CACHE=${CODEJAIL_TEST_CACHE:-/var/cache/codejail-test}

# ---- both guests: each in its own process, short output ------------------------
if [ -z "$SUITE" ]; then
        [ -z "$DEB" ] || { echo "realhost: --deb needs --suite" >&2; exit 2; }
        rc=0
        sfx=; [ "$AA_MODE" = complain ] && sfx=-complain
        for s in trixie bookworm; do
                mkdir -p "$CACHE"
                log=$CACHE/realhost-$s$sfx.log
                args=(--suite "$s" --aa-mode "$AA_MODE")
                [ "$KEEP" = 1 ] && args+=(--keep)
                "$0" "${args[@]}" >"$log" 2>&1 || rc=1
                grep -E '^(FAIL|realhost: )' "$log" | grep -v '^realhost: kept' || true
                grep -E '^realhost [a-z]+( \[complain\])?: ' "$log" || echo "realhost $s: no summary (see $log)"
        done
        exit $rc
fi
case $SUITE in bookworm|trixie) ;; *) echo "realhost: --suite bookworm|trixie" >&2; exit 2 ;; esac

CJ_NAME=realhost
# say, fail, die, cj_need_tools, cj_build_deb, cj_mirror (shared with nspawn-test.sh)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=realhost-lib.sh
. "$HERE/realhost-lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root"
rh_need_tools
WORK=$(mktemp -d /tmp/codejail-realhost.XXXXXXXX)
trap rh_cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$CACHE/last-realhost-$SUITE; [ "$AA_MODE" = complain ] && RESULTS+=-complain
SHARE=$WORK/share
OUT=$SHARE/out
mkdir -p "$OUT"

rh_build_deb
rh_image "$DEB"

# ---- the share: the package, the guest script, its parameters ------------------------
read -r P_MAIN P_DISABLED P_UNHEALTHY CTRL_PORT <<<"$(/usr/bin/python3 -c 'import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
cp "$DEB" "$SHARE/"
cp "$HERE/realhost-guest.sh" "$SHARE/guest.sh"
# The guest waits this long for each of the host's steps (api_tests is the long one).
printf 'MODE=%s\nSUITE=%s\nCTRL_PORT=%s\nWAIT_HOST_S=%s\n' "$AA_MODE" "$SUITE" "$CTRL_PORT" 3600 >"$SHARE/params.sh"

# Egress control: a loopback listener the guest could reach as 10.0.2.2 if
# QEMU's restrict=on did not hold. It only counts connections.
/usr/bin/python3 - "$CTRL_PORT" "$WORK/ctrl.log" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, a = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write(f"accepted {a}\n")
    c.close()
EOF
LISTENER_PID=$!

# ---- boot ---------------------------------------------------------------------------
cj_heavy_begin "the $SUITE guest"
say "booting the $SUITE guest (TCG, AppArmor $AA_MODE; host ports $P_MAIN $P_DISABLED $P_UNHEALTHY)"
T_BOOT=$(date +%s)
rh_boot "$WORK" "$SHARE" "$WORK/console.log" \
        "tcp:127.0.0.1:$P_MAIN-:8080" "tcp:127.0.0.1:$P_DISABLED-:8081" "tcp:127.0.0.1:$P_UNHEALTHY-:8082"

# $1 marker in out/, $2 seconds: 0 when it appeared, 1 when QEMU is gone, 2 on timeout.
wait_marker() {
        local i
        for ((i = 0; i < $2; i++)); do
                [ -e "$OUT/$1" ] && return 0
                kill -0 "$QEMU_PID" 2>/dev/null || { [ -e "$OUT/$1" ] && return 0; return 1; }
                sleep 1
        done
        return 2
}
guest_gone() {
        fail "$1"
        tail -25 "$WORK/console.log" >&2 || true
        tail -15 "$OUT/guest.log" >&2 2>/dev/null || true
}
factv() { sed -n "s/^$1=//p" "$OUT/facts" 2>/dev/null | tail -1; }

BASE=http://127.0.0.1:$P_MAIN
PYTEST_LINE="not run"
if wait_marker socket-up 1800; then
        say "guest: $(factv os), kernel $(factv kernel), $(factv systemd), AppArmor $(factv apparmor_parser | grep -o '[0-9][0-9.]*' | head -1), $(factv python); booted in $(factv boot_s) s"
        # The shipped socket: IPAddressAllow=localhost. This host reaches the
        # guest as 10.0.2.2: no answer may come back.
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 8 "$BASE/health/" || true)
        echo "$code" >"$WORK/probe-before-dropin.code"
        if [ "$code" = 000 ]; then
                say "shipped codejail.socket: a connection from 10.0.2.2 went unanswered (IPAddressAllow=localhost)"
        else
                fail "shipped codejail.socket answered 10.0.2.2 with HTTP $code"
        fi
        : >"$SHARE/host-probed"
        if wait_marker ready 1800; then
                say "guest ready after $(( $(date +%s) - T_BOOT )) s: selfcheck '$(factv selfcheck)', README curl: $(factv readme_curl)"
                code=$(curl -s -o "$WORK/health-host.json" -w '%{http_code}' --max-time 30 "$BASE/health/" || true)
                say "GET /health/ from the host (10.0.2.2, opened by the drop-in): $code"
                if [ "$(factv apparmor_active)" = yes ] && [ "$(factv install)" = ok ]; then
                        say "running api_tests against $BASE"
                        T_PY=$(date +%s)
                        (cd "$TOP" && API_TEST_SERVICE_BASE=$BASE API_TEST_SERVICE_HAS_NO_EGRESS=1 \
                                API_TEST_DISABLED_BASE=http://127.0.0.1:$P_DISABLED \
                                API_TEST_UNHEALTHY_BASE=http://127.0.0.1:$P_UNHEALTHY \
                                API_TEST_LIBRARY_CONTEXT=api-tests-libraries \
                                /usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider api_tests >"$WORK/pytest.log" 2>&1) || true
                        PYTEST_LINE=$(tail -1 "$WORK/pytest.log" | sed 's/^=* *//; s/ *=*$//')
                        say "api_tests ($(( $(date +%s) - T_PY )) s): $PYTEST_LINE"
                fi
                : >"$SHARE/host-done"
                wait_marker "done" 1800 || guest_gone "the guest did not finish its checks"
        else
                guest_gone "the guest never became ready"
        fi
else
        guest_gone "the guest never started the socket (booted? see console.log)"
fi
# The guest powers off after writing out/done.
for _ in $(seq 1 120); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 1; done
if kill -0 "$QEMU_PID" 2>/dev/null; then
        kill -TERM "$QEMU_PID" 2>/dev/null || true
fi
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=
cj_heavy_end
say "guest powered off after $(( $(date +%s) - T_BOOT )) s"

# ---- verdicts --------------------------------------------------------------------------
chk() {  # description, condition result (0 = good)
        if [ "$2" = 0 ]; then say "ok: $1"; else fail "$1"; fi
}
is() { [ "$1" = "$2" ] && echo 0 || echo 1; }

aa=$(factv apparmor_active)
if [ "$aa" != yes ]; then
        fail "APPARMOR IS NOT ACTIVE in the $SUITE guest (lsm: $(factv lsm)); this tier means nothing without it"
else
        say "AppArmor active (lsm: $(factv lsm))"
fi
chk "guest routes: only slirp's network, no default route ($(factv routes))" \
        "$(factv routes | grep -q '^10\.0\.2\.0/24 dev eth0 ' && ! factv routes | grep -q default && echo 0 || echo 1)"
chk "guest -> 10.0.2.2:$CTRL_PORT refused by restrict=on ($(factv egress_control), listener saw $(wc -l <"$WORK/ctrl.log" 2>/dev/null || echo ?) connection(s))" \
        "$([ "$(factv egress_control)" = refused ] && [ ! -s "$WORK/ctrl.log" ] && echo 0 || echo 1)"
chk "apt-get install ./$(basename "$DEB") with no network: $(factv install)" "$(is "$(factv install)" ok)"
chk "installed disabled: $(factv install_enabled_after), $(factv config_default), mode $(factv config_mode)" \
        "$([ "$(factv install_enabled_after)" = disabled,disabled ] && [ "$(factv config_mode)" = 600 ] && echo 0 || echo 1)"
say "profiles after install: $(factv profiles_after_install)$([ "$AA_MODE" = complain ] && echo "; switched to $(factv profiles_mode)")"
chk "enable --now codejail.socket enabled: $(factv enabled_after)" "$(is "$(factv enabled_after)" enabled,enabled)"
say "selfcheck as installed: $(factv selfcheck_first); /health/ $(factv health_first_code)"
SELFCHECK=$(factv selfcheck)
chk "selfcheck StatusText: $SELFCHECK" "$(case $SELFCHECK in "selfcheck OK"*) echo 0 ;; *) echo 1 ;; esac)"
if [ -s "$OUT/selfcheck-failed.txt" ]; then sed 's/^/   failed check: /' "$OUT/selfcheck-failed.txt"; fi
chk "GET /health/ in the guest: $(factv health_code)" "$(is "$(factv health_code)" 200)"
chk "GET /health/ from the host through the drop-in: $(cat "$WORK/health-host.json" 2>/dev/null | head -c 80)" \
        "$(grep -q '"status": "OK"' "$WORK/health-host.json" 2>/dev/null && echo 0 || echo 1)"
chk "README curl: $(factv readme_curl)" "$(is "$(factv readme_curl)" '{"globals_dict": {"x": 17}}')"
chk "api_tests: $PYTEST_LINE" "$(grep -qE '^=* *[0-9]+ passed' <<<"$PYTEST_LINE" && ! grep -qE 'failed|error' <<<"$PYTEST_LINE" && echo 0 || echo 1)"
grep -E '^(FAILED|ERROR) ' "$WORK/pytest.log" 2>/dev/null | cut -c1-200 | sed 's/^/   /' || true

# The held-open instance (enforce: the codejail-service profile must confine it).
st=$(factv instance_status)
chk "instance $(factv instance): uid $(factv instance_uid)" \
        "$(factv instance_uid | awk '{ exit !($1 == substr($3, 1, length($3) - 1) && $1 > 0 && $1 < 1000) }' && echo 0 || echo 1)"
chk "instance namespaces of its own: $(factv instance_own_ns)" "$(is "$(factv instance_own_ns)" 'net mnt uts ipc')"
chk "instance in codejail.slice: $(factv instance_cgroup)" \
        "$(factv instance_cgroup | grep -q '^/codejail.slice/codejail@' && echo 0 || echo 1)"
chk "codejail.slice's memory.max, enforced by the kernel: $(factv slice_memory_max) (MemoryMax=$(factv slice_memory_max_unit))" \
        "$(factv slice_memory_max | grep -qE '^[0-9]+$' && echo 0 || echo 1)"
chk "instance: $st" "$(grep -q 'NoNewPrivs: 1' <<<"$st" && grep -q 'Seccomp: 2' <<<"$st" &&
        grep -q 'CapEff: 00000000002001c0' <<<"$st" && grep -q 'CapBnd: 00000000002001c0' <<<"$st" && echo 0 || echo 1)"
chk "instance AppArmor label: $(factv instance_label)" "$(is "$(factv instance_label)" "codejail-service ($AA_MODE)")"
# The sandbox profile stacked on the service's (aa_stack_onexec): the kernel
# names the stack with its components in order.
LABEL=$(factv sandbox_label)
WANT_LABEL="codejail-sandbox//&codejail-service ($AA_MODE)"
chk "running jailed python's AppArmor label: $LABEL ($(factv sandbox_process))" "$(is "$LABEL" "$WANT_LABEL")"
LAYER=$(factv layers_apparmor); LAYER=${LAYER:-"none (no health.json)"}
chk "health.json layers.apparmor: $LAYER" "$(is "$LAYER" enforced)"

# The journal (analysed here: the host's Python is the fast one).
if [ -s "$OUT/journal.json" ]; then
        if jr=$(/usr/bin/python3 "$HERE/journal_check.py" "$OUT/journal.json" "$(factv accepted)" "$(factv service_uid)" 2>&1); then
                say "$jr"
        else
                fail "journal checks: $(sort <<<"$jr" | uniq -c | head -4 | tr -s ' \n' ' ')"
        fi
else
        fail "no journal from the guest"
fi

PURGE=$( [ "$(factv purge)" = ok ] && [ -z "$(factv leftover)" ] && echo clean || echo "NOT clean: $(factv purge) $(factv leftover)")
chk "purge: $PURGE" "$(is "$PURGE" clean)"
say "profiles loaded after purge: $(factv profiles_after_purge | sed 's/^$/none/')"

# AppArmor's own account.
aud=$(/usr/bin/python3 "$HERE/realhost_audit.py" "$OUT" "$AA_MODE" "$(factv ratelimit_off_s)")
n_svc=$(jq -r '.per_profile["codejail-service"] // 0' <<<"$aud")
n_sbx=$(jq -r '.per_profile["codejail-sandbox"] // 0' <<<"$aud")
verdict=$(jq -r .verdict <<<"$aud")
say "AppArmor audit: $(jq -c '{records, verdicts, per_profile, test_listener, distinct, lost}' <<<"$aud")"
[ "$(jq -r .lost <<<"$aud")" = 0 ] || fail "the kernel lost $(jq -r .lost <<<"$aud") audit record(s): counts are lower bounds"
chk "codejail-service: $n_svc $verdict record(s) (want 0)" "$(is "$n_svc" 0)"
chk "codejail-sandbox: $n_sbx $verdict record(s) (want > 0: at least the profile-alone probe's)" \
        "$([ "$n_sbx" -gt 0 ] && echo 0 || echo 1)"
# aa-exec -p codejail-sandbox cat /etc/hostname: refused when enforcing.
PROBE=$(factv sandbox_profile_probe)
if [ "$AA_MODE" = enforce ]; then
        chk "the sandbox profile alone refuses a read it does not allow: $PROBE" \
                "$(case $PROBE in "rc=0 "*|"") echo 1 ;; *"Permission denied"*) echo 0 ;; *) echo 1 ;; esac)"
fi

# ---- results --------------------------------------------------------------------------
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
cp -r "$OUT"/. "$RESULTS/"
cp "$WORK"/*.log "$WORK"/*.json "$WORK"/*.out "$WORK/probe-before-dropin.code" "$RESULTS/" 2>/dev/null || true
cp "$RH_IMAGE_DIR/versions" "$RESULTS/guest-versions.txt" 2>/dev/null || true
if [ "$AA_MODE" = complain ] || [ -s "$RESULTS/apparmor-accesses.txt" ]; then
        say "distinct AppArmor accesses ($(wc -l <"$RESULTS/apparmor-accesses.txt")): $RESULTS/apparmor-accesses.txt"
fi

el=$(( $(date +%s) - T0 ))
sc=$(case $SELFCHECK in
        "selfcheck OK: "*) sed -n 's/^selfcheck OK: \([0-9]*\) checks passed.*/selfcheck OK (\1 checks)/p' <<<"$SELFCHECK" ;;
        *) echo "selfcheck '${SELFCHECK:-none}'" ;;
        esac)
py=$(sed -E 's/ in [0-9.]+s.*//' <<<"$PYTEST_LINE")
word=denials; [ "$AA_MODE" = complain ] && word="complaints (ALLOWED)"
mode=; [ "$AA_MODE" = complain ] && mode=" [complain]"
lt=; [ "${RH_LINTIAN_E:-}" ] && lt="lintian ${RH_LINTIAN_E}E/${RH_LINTIAN_W} other tag(s), "
waited=; [ "$CJ_LOCK_WAIT" -gt 0 ] && waited=" ($((CJ_LOCK_WAIT / 60))m$((CJ_LOCK_WAIT % 60))s of it waiting for $HEAVY_LOCK)"
SUMMARY="realhost $SUITE$mode: ${lt}AppArmor $([ "$aa" = yes ] && echo active || echo NOT-ACTIVE), $sc, api_tests $py, service-profile $word $n_svc, sandbox-profile $word $n_sbx, sandbox label seen: $([ "$LABEL" = "$WANT_LABEL" ] && echo yes || echo "no ($LABEL)"), layers.apparmor $LAYER, purge $PURGE, $FAILED failure(s), $((el / 60))m$((el % 60))s$waited"
echo "$SUMMARY" >"$RESULTS/summary.txt"
say "results: $RESULTS"
echo "$SUMMARY"
[ "$FAILED" = 0 ]
