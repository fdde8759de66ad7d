# Shared helpers of the booted-systemd tier (sourced by nspawn-test.sh and
# nspawn-bench.sh; bash, set -euo pipefail in the caller).
#
# Variables the caller may set before sourcing: CACHE, KEEP, DEB.
# Set by the helpers: T0, FAILED, WORK, RUN, MERGED, NSPAWN_PID, LEADER, CT.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CACHE=${CACHE:-${CODEJAIL_TEST_CACHE:-/var/cache/codejail-test}}
KEEP=${KEEP:-0}
DEB=${DEB:-}
T0=${T0:-$(date +%s)}
FAILED=${FAILED:-0}
WORK=
RUN=
MERGED=
NSPAWN_PID=
LEADER=
CT=cj$$
CJ_NAME=${CJ_NAME:-nspawn-test}

say() { printf '== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=$((FAILED + 1)); }
die() { printf '%s: %s\n' "$CJ_NAME" "$*" >&2; exit 1; }

# ---- tools -----------------------------------------------------------------
cj_need_tools() {
        local need=()
        command -v debootstrap >/dev/null || need+=(debootstrap)
        command -v systemd-nspawn >/dev/null || need+=(systemd-container)
        command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
        dpkg -s debhelper dh-apparmor lintian >/dev/null 2>&1 || need+=(debhelper dh-apparmor lintian)
        command -v curl >/dev/null || need+=(curl)
        /usr/bin/python3 -c 'import pytest, requests' 2>/dev/null || need+=(python3-pytest python3-requests)
        if [ ${#need[@]} -gt 0 ]; then
                say "installing ${need[*]}"
                apt-get update -q >/dev/null
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
        fi
}

# ---- work dir and clean-up -------------------------------------------------------
cj_cleanup() {
        local rc=$?
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                # SIGTERM: nspawn asks the container's systemd to power off.
                kill -TERM "$NSPAWN_PID" 2>/dev/null || true
                for _ in $(seq 1 30); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
        if [ -n "$MERGED" ] && mountpoint -q "$MERGED"; then
                umount "$MERGED" || umount -l "$MERGED" || true
        fi
        mkdir -p "$CACHE/last-run" && cp -f "$WORK"/*.log "$WORK"/*.json "$CACHE/last-run/" 2>/dev/null || true
        if [ "$KEEP" = 1 ]; then
                echo "$CJ_NAME: kept $WORK and $RUN" >&2
        else
                rm -rf "$WORK" "${RUN:-/nonexistent}"
        fi
        exit $rc
}
cj_workdir() {
        WORK=$(mktemp -d /tmp/codejail-nspawn.XXXXXXXX)
        trap cj_cleanup EXIT
        trap 'exit 130' INT TERM
}

# ---- the package -------------------------------------------------------------
cj_build_deb() {
        [ -n "$DEB" ] && { say "package: $(basename "$DEB")"; return 0; }
        say "building the .deb from git archive HEAD ($(git -C "$TOP" rev-parse --short HEAD))"
        mkdir -p "$WORK/src"
        # A clean tree: no build-* dirs, no caches, only what is committed.
        git -C "$TOP" archive HEAD | tar -x -C "$WORK/src"
        if ! (cd "$WORK/src" && dpkg-checkbuilddeps >/dev/null 2>&1); then
                say "installing build dependencies (debian/control)"
                (cd "$WORK/src" && apt-get update -q >/dev/null &&
                        DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./ >/dev/null) ||
                        die "cannot install the build dependencies"
        fi
        if ! (cd "$WORK/src" && dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1); then
                tail -30 "$WORK/build.log" >&2
                die "dpkg-buildpackage failed (log above)"
        fi
        DEB=$(ls "$WORK"/codejail-service_*_*.deb | grep -v dbgsym)
        if [ "${CJ_LINTIAN:-1}" = 1 ] && command -v lintian >/dev/null; then
                lintian "$WORK"/codejail-service_*.changes >"$WORK/lintian.log" 2>&1 || true
                if grep -q '^E:' "$WORK/lintian.log"; then
                        grep '^E:' "$WORK/lintian.log" >&2
                        fail "lintian reports errors"
                else
                        say "lintian: no errors ($(grep -c '^W:' "$WORK/lintian.log") warning(s))"
                fi
        fi
        say "package: $(basename "$DEB")"
}

# ---- the Debian 12 tree (cached) ---------------------------------------------
cj_mirror() {
        [ -n "${CODEJAIL_TEST_MIRROR:-}" ] && { echo "$CODEJAIL_TEST_MIRROR"; return; }
        # The mirror apt already uses for bookworm (deb822 or one-line format).
        local m
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
                grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')
        echo "${m:-http://deb.debian.org/debian}"
}
cj_rootfs() {
        local pkgs key
        pkgs="systemd,systemd-sysv,dbus,libjansson4,libseccomp2,libapparmor1,libsystemd0"
        # The package's Depends and Recommends (dpkg -i installs no Recommends).
        pkgs+=",python3,python3-six,python3-numpy,python3-networkx,python3-matplotlib"
        pkgs+=",python3-scipy,python3-sympy,python3-lxml,python3-nltk,python3-pyparsing,python3-cryptography"
        # debootstrap does not resolve virtual packages: python3-cryptography
        # needs python3-cffi-backend-api-{min,max}, which this provides
        pkgs+=",python3-cffi-backend"
        key=$(printf 'bookworm minbase %s v1' "$pkgs" | sha256sum | cut -c1-12)
        BASE=$CACHE/rootfs-bookworm-$key
        if [ ! -x "$BASE/usr/bin/python3" ]; then
                say "debootstrap bookworm into $BASE (cold cache; mirror $(cj_mirror))"
                mkdir -p "$CACHE"
                rm -rf "$BASE.tmp"
                debootstrap --variant=minbase --include="$pkgs" bookworm "$BASE.tmp" "$(cj_mirror)" \
                        >"$CACHE/debootstrap.log" 2>&1 ||
                        { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
                chroot "$BASE.tmp" apt-get clean
                # A booted container needs no gettys or network management.
                rm -f "$BASE.tmp"/etc/systemd/system/getty.target.wants/* "$BASE.tmp/etc/machine-id"
                : >"$BASE.tmp/etc/machine-id"
                mv "$BASE.tmp" "$BASE"
        fi
        # A throw-away overlay per run: the cache stays pristine.
        RUN=$CACHE/runs/run.$$
        mkdir -p "$RUN/upper" "$RUN/work" "$RUN/root"
        MERGED=$RUN/root
        mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" "$MERGED"
        # netbase is not in minbase, but every real install has /etc/hosts (and the
        # deny tests read it expecting PermissionError, not FileNotFoundError).
        [ -e "$MERGED/etc/hosts" ] ||
                printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$MERGED/etc/hosts"
}

cj_free_port() {
        /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nspawn without boot, for set-up steps in the tree.
cj_nspawn_run() { systemd-nspawn -q --register=no --keep-unit -M "$CT" -D "$MERGED" "$@"; }

cj_install() {
        say "installing the package into the tree"
        cp "$DEB" "$MERGED/root/codejail-service.deb"
        cat >"$MERGED/root/install.sh" <<'EOF'
set -e
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -i /root/codejail-service.deb >/root/dpkg.log 2>&1; then
        # Depends the cached tree lacks: from the mirror (host network).
        apt-get update -q >/dev/null && apt-get install -y -q -f >/dev/null
fi
dpkg -s codejail-service | grep -q '^Status: install ok installed'
# Shipped disabled: nothing may be enabled by the package itself.
! systemctl is-enabled -q codejail.socket
! systemctl is-enabled -q codejail-selfcheck.timer
EOF
        cj_nspawn_run bash /root/install.sh || die "installing the package failed"
}

# Main listener on 127.0.0.1:$1 (a drop-in, the package files untouched).
cj_socket_port() {
        mkdir -p "$MERGED/etc/systemd/system/codejail.socket.d"
        cat >"$MERGED/etc/systemd/system/codejail.socket.d/test-port.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$1
EOF
}

# ---- boot ---------------------------------------------------------------------
cj_boot() {
        say "booting the container"
        # The host is not necessarily run by systemd: --keep-unit --register=no keep
        # nspawn off the host's bus. Host network: the container's loopback is ours.
        # nspawn 252's own seccomp allow-list predates Landlock (the jail needs it)
        # and refuses bpf() (systemd needs it to enforce IPAddressAllow/Deny=); both
        # are added back for the container -- a property of the harness, not of the
        # product, which runs on the host's systemd.
        systemd-nspawn -b --register=no --keep-unit -q -D "$MERGED" -M "$CT" \
                --system-call-filter="landlock_create_ruleset landlock_add_rule landlock_restrict_self bpf" \
                </dev/null >"$WORK/console.log" 2>&1 &
        NSPAWN_PID=$!
        local p
        for _ in $(seq 1 100); do
                for p in $(pgrep -P "$NSPAWN_PID"); do  # the container's PID 1, as the host sees it
                        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = systemd ] && { LEADER=$p; break 2; }
                done
                sleep 0.1
        done
        [ -n "$LEADER" ] || { cat "$WORK/console.log" >&2; die "container did not start"; }
        local st=
        for _ in $(seq 1 120); do
                st=$(in_ct systemctl is-system-running 2>/dev/null || true)
                case $st in running|degraded) break ;; esac
                sleep 0.5
        done
        say "container up (system state: $st)"
        [ "$st" = running ] || in_ct systemctl --failed --no-legend >&2 || true
}
in_ct() { nsenter -t "$LEADER" -a -- "$@"; }

# Wait for GET $1/health/ = 200; writes the body to $WORK/health.json.
cj_wait_health() {
        local code=
        for _ in $(seq 1 120); do
                code=$(curl -s -o "$WORK/health.json" -w '%{http_code}' --max-time 5 "$1/health/" || true)
                [ "$code" = 200 ] && return 0
                sleep 0.5
        done
        fail "GET $1/health/ never answered 200 (last: $code)"
        in_ct systemctl status --no-pager codejail.socket codejail-selfcheck.service >&2 || true
        in_ct journalctl --no-pager -b -n 60 >&2 || true
        return 1
}
