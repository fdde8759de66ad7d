# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the booted-systemd tier (sourced by nspawn-test.sh and
# nspawn-bench.sh; bash, set -euo pipefail in the caller).
#
# Variables the caller may set before sourcing: CACHE, KEEP, DEB.
# Set by the helpers: T0, FAILED, WORK, RUN, MERGED, NSPAWN_PID, LEADER, CT,
# CJ_MOUNTS, CJ_LOCK_WAIT, BUILD_ROOT.

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
CJ_MOUNTS=()     # mounted by the helpers, unmounted by the clean-up (last first)
CJ_LOCK_WAIT=0   # seconds spent waiting for other people's heavy jobs
HEAVY_LOCK=${CODEJAIL_HEAVY_LOCK:-/tmp/cj-heavy.lock}

say() { printf '== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=$((FAILED + 1)); }
die() { printf '%s: %s\n' "$CJ_NAME" "$*" >&2; exit 1; }

# ---- tools -----------------------------------------------------------------
# $@: more tools a caller needs, each COMMAND:PACKAGE.
cj_need_tools() {
        local need=() t
        for t in "$@"; do command -v "${t%%:*}" >/dev/null || need+=("${t#*:}"); done
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

# ---- one heavy job at a time ----------------------------------------------------------
# The machine is shared with benchmarks: CPU-heavy phases (builds, QEMU
# boots) take $HEAVY_LOCK, machine-wide. fd 9 holds it; children that must
# not keep it get 9>&-. Run under `flock $HEAVY_LOCK ...` already (an
# ancestor holds it), taking it again would wait for ourselves: it is ours.
cj_lock_held_by_ancestor() {
        local ino holders p
        ino=$(stat -c %i "$HEAVY_LOCK" 2>/dev/null) || return 1
        holders=$(awk -v i=":$ino\$" '$2 == "FLOCK" && $6 ~ i { print $5 }' /proc/locks)
        [ -n "$holders" ] || return 1
        p=$$
        while [ "${p:-0}" -gt 1 ]; do
                grep -qx "$p" <<<"$holders" && return 0
                p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        done
        return 1
}
cj_heavy_begin() {  # $1 = what for (printed while waiting)
        local t
        cj_lock_held_by_ancestor && return 0
        exec 9>"$HEAVY_LOCK"
        if ! flock -n 9; then
                say "waiting for $HEAVY_LOCK ($1)"
                t=$(date +%s)
                flock 9
                CJ_LOCK_WAIT=$((CJ_LOCK_WAIT + $(date +%s) - t))
        fi
}
cj_heavy_end() { { flock -u 9 && exec 9>&-; } 2>/dev/null || true; }

cj_umount_all() {
        local i m
        for ((i = ${#CJ_MOUNTS[@]} - 1; i >= 0; i--)); do
                m=${CJ_MOUNTS[$i]}
                mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m" || true; }
        done
        CJ_MOUNTS=()
}

# ---- work dir and clean-up -------------------------------------------------------
# A caller with more to stop (more containers, a balancer, namespaces)
# defines cj_cleanup_extra; it runs first.
cj_cleanup() {
        local rc=$?
        declare -F cj_cleanup_extra >/dev/null && cj_cleanup_extra
        cj_umount_all
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                # SIGTERM: nspawn asks the container's systemd to power off.
                kill -TERM "$NSPAWN_PID" 2>/dev/null || true
                for _ in $(seq 1 30); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
        cj_cgroup_remove "$CT"
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
# Who builds the .deb: a build daemon's kind of user, never root.
CJ_BUILDER=65534:65534
cj_as_builder() { setpriv --reuid="${CJ_BUILDER%:*}" --regid="${CJ_BUILDER#*:}" --clear-groups "$@"; }
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
        # Built as a build daemon builds it (Rules-Requires-Root: no): not
        # root, so dh_auto_test's make check runs the pure tests and the jail
        # suites report SKIP; tests/run-all.sh runs those as root elsewhere.
        mkdir -p "$WORK/build"
        cp -a "$WORK/src" "$WORK/build/src"
        chmod 0755 "$WORK"
        chown -R "$CJ_BUILDER" "$WORK/build"
        if ! cj_as_builder \
                env HOME="$WORK/build" sh -c 'cd "$1" && exec dpkg-buildpackage -us -uc -b' sh "$WORK/build/src" \
                >"$WORK/build.log" 2>&1; then
                tail -30 "$WORK/build.log" >&2
                die "dpkg-buildpackage failed (log above)"
        fi
        grep -E '^(PASS|SKIP|FAIL|# TOTAL)' "$WORK/build.log" | sed 's/^/   make check (unprivileged): /' | grep -E 'SKIP|TOTAL' || true
        mv "$WORK"/build/codejail-service[_-]* "$WORK"/
        rm -rf "$WORK/build"
        DEB=$(ls "$WORK"/codejail-service_*_*.deb | grep -v dbgsym)
        if [ "${CJ_LINTIAN:-1}" = 1 ]; then
                cj_lintian
                cj_lintian_verdict bookworm
        fi
        [ "${CJ_REPRO:-${CJ_LINTIAN:-1}}" = 1 ] && cj_repro_check
        say "package: $(basename "$DEB")"
}

# Reproducible: the same tree built again, elsewhere and otherwise, must
# give byte-identical .debs (the package and its -dbgsym). What differs
# from the first build: the build path (and its depth and directory name),
# the time, the time zone, the umask, the locale, HOME. Not the builder
# user or the kernel (reprotest varies those too). nocheck: make check
# writes nothing that is installed, and the first build ran it.
cj_repro_check() {
        local r=$WORK/repro t0 f bad=0
        t0=$(date +%s)
        rm -rf "$r" && mkdir -p "$r/elsewhere/deeper"
        cp -a "$WORK/src" "$r/elsewhere/deeper/codejail-service-0.1.0"
        chown -R "$CJ_BUILDER" "$r"
        if ! cj_as_builder \
                env HOME="$r/elsewhere" TZ=Etc/GMT-14 LC_ALL=C.UTF-8 DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
                sh -c 'umask 0002 && cd "$1" && exec dpkg-buildpackage -us -uc -b' sh "$r/elsewhere/deeper/codejail-service-0.1.0" \
                >"$WORK/build-repro.log" 2>&1; then
                tail -30 "$WORK/build-repro.log" >&2
                fail "reproducibility: the second build failed (log above)"
                return 0
        fi
        for f in "$WORK"/codejail-service*_*.deb; do
                if ! cmp -s "$f" "$r/elsewhere/deeper/$(basename "$f")"; then
                        bad=$((bad + 1))
                        if command -v diffoscope >/dev/null; then
                                diffoscope --text "$WORK/diffoscope-$(basename "$f").txt" "$f" "$r/elsewhere/deeper/$(basename "$f")" >/dev/null 2>&1 || true
                                head -60 "$WORK/diffoscope-$(basename "$f").txt" >&2
                        fi
                fi
        done
        if [ "$bad" = 0 ]; then
                say "reproducible: a second build (other path, time zone, umask, locale) gave byte-identical $(cd "$WORK" && ls codejail-service*_*.deb | paste -sd' ') ($(( $(date +%s) - t0 )) s)"
        else
                fail "reproducibility: $bad .deb(s) differ between two builds of the same tree (diffoscope above, $WORK/diffoscope-*.txt)"
        fi
        rm -rf "$r"
}

# lintian --pedantic -I of this host's release on the binary build's
# .changes and on the source package (dpkg-source -b of the pristine
# $WORK/src), as the builder user: lintian unpacks what it checks.
CJ_LINTIAN_ARGS="--pedantic -I --show-overrides"
cj_lintian() {
        local d=$WORK/lintian
        rm -rf "$d" && mkdir -p "$d"
        cp -a "$WORK/src" "$d/codejail-service"
        cp "$WORK"/codejail-service_*.changes "$WORK"/codejail-service*_*.deb "$WORK"/codejail-service_*.buildinfo "$d/"
        chown -R "$CJ_BUILDER" "$d"
        # shellcheck disable=SC2086
        cj_as_builder env HOME="$d" sh -c '
                cd "$1" && dpkg-source -b codejail-service >dpkg-source.log 2>&1 || { cat dpkg-source.log; exit 1; }
                shift; lintian "$@" codejail-service_*.changes codejail-service_*.dsc' sh "$d" $CJ_LINTIAN_ARGS \
                >"$WORK/lintian.log" 2>&1 || true
        rm -rf "$d"
}

# Any tag lintian shows with $CJ_LINTIAN_ARGS (E: W: I: P:) fails: the
# package is clean there, and what is not a defect is overridden with a
# reason (debian/*lintian-overrides). $1 = the release, for the messages.
# Expected, per release, because one source builds for 12 and 13: Debian
# 12's lintian knows Standards-Version 4.6.2 at most (a newer one is its
# W: newer-standards-version), so 13's lintian calls 4.6.2 out of date (I:);
# an override would be 12's I: unused-override.
CJ_LINTIAN_EXPECTED_trixie='^I: codejail-service source: out-of-date-standards-version 4\.6\.2 '
cj_lintian_verdict() {
        local n expected
        expected=CJ_LINTIAN_EXPECTED_${1%%[!a-z]*}
        expected=${!expected:-^$}
        n=$(grep -E '^[EWIP]: ' "$WORK/lintian.log" | grep -cvE "$expected" || true)
        if [ "$n" = 0 ] && ! grep -vE '^(N|O): |^$' "$WORK/lintian.log" | grep -qvE "$expected"; then
                say "lintian $CJ_LINTIAN_ARGS ($1): clean ($(grep -c '^O: ' "$WORK/lintian.log" || true) override(s), $(grep -cE "$expected" "$WORK/lintian.log" || true) expected)"
        else
                sed 's/^/   /' "$WORK/lintian.log" >&2
                fail "lintian $CJ_LINTIAN_ARGS ($1): $n tag(s) (above)"
        fi
}

# A .deb built FOR a Debian release: bookworm on this (Debian 12) host, as
# above; any other release in a cached build tree of that release, run as a
# plain nspawn container (no init), with the build dependencies debian/control
# names installed by `apt-get build-dep ./` when the tree was made. Both
# from `git archive HEAD`; lintian of that release in $WORK/lintian.log.
cj_build_deb_for() {  # $1 = suite
        if [ "$1" = bookworm ]; then
                cj_heavy_begin "building the .deb"
                CJ_LINTIAN=0 cj_build_deb
                cj_heavy_end
                [ "${CJ_LINTIAN:-1}" = 1 ] && cj_lintian
        else
                cj_build_deb_in_tree "$1"
        fi
        return 0
}

# debootstrap minbase, then apt in the tree (nspawn, no init): debootstrap's
# own resolver does not follow virtual packages (trixie's lintian needs
# perl-openssl-abi-3).
cj_debootstrap() {  # $1 = suite, $2 = target, $3 = log, $4.. packages
        local suite=$1 root=$2 log=$3
        shift 3
        debootstrap --variant=minbase "$suite" "$root" "$(cj_mirror)" >"$log" 2>&1 &&
                systemd-nspawn -q --register=no --keep-unit -M "cjd$$" -D "$root" sh -c '
                        export DEBIAN_FRONTEND=noninteractive
                        apt-get update -q && apt-get install -y -q --no-install-recommends "$@" && apt-get clean' \
                        sh "$@" >>"$log" 2>&1
}

# A new keyed tree replaces the older ones of its kind (the key changes with
# debian/control or the package list).
cj_prune() {  # $1 = path prefix
        local d
        for d in "$1"*; do
                case $d in *.tmp) continue ;; esac
                [ -e "$d" ] && rm -rf "$d"
        done
        return 0
}

cj_build_tree() {  # $1 = suite, $2 = source tree; sets BUILD_ROOT (cached)
        local suite=$1 src=$2 pkgs bdeps key log
        # python3: the wrapper differential runs on the release's Python
        pkgs="build-essential dpkg-dev fakeroot lintian python3"
        # The build dependencies as debian/control has them: the key changes
        # when they do, and the tree is made again.
        bdeps=$(sed -n '/^Build-Depends:/,/^[^ ]/p' "$src/debian/control")
        key=$(printf '%s minbase %s %s v1' "$suite" "$pkgs" "$bdeps" | sha256sum | cut -c1-12)
        BUILD_ROOT=$CACHE/build-$suite-$key
        [ -e "$BUILD_ROOT/.build-deps-ok" ] && return 0
        log=$CACHE/debootstrap-build-$suite.log
        say "debootstrap $suite build tree into $BUILD_ROOT (cold cache; mirror $(cj_mirror))"
        mkdir -p "$CACHE"
        rm -rf "$BUILD_ROOT.tmp"
        # shellcheck disable=SC2086
        cj_debootstrap "$suite" "$BUILD_ROOT.tmp" "$log" $pkgs ||
                { tail -20 "$log" >&2; die "debootstrap $suite (build tree) failed"; }
        mkdir -p "$BUILD_ROOT.tmp/build"
        cp -a "$src" "$BUILD_ROOT.tmp/build/src"
        # As a packager would: the build dependencies from debian/control.
        systemd-nspawn -q --register=no --keep-unit -M "cjb$$" -D "$BUILD_ROOT.tmp" --chdir=/build/src \
                sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get build-dep -y -q ./ && apt-get clean' \
                >>"$log" 2>&1 ||
                { tail -20 "$log" >&2; die "apt-get build-dep ./ failed in the $suite tree"; }
        rm -rf "$BUILD_ROOT.tmp/build"
        : >"$BUILD_ROOT.tmp/.build-deps-ok"
        cj_prune "$CACHE/build-$suite-"
        mv "$BUILD_ROOT.tmp" "$BUILD_ROOT"
}

# The wrapper differential (tests/wrapper/differential.py) on this
# release's Python: make check in the tree ran unprivileged and skipped it.
# The wrapper is the one the tree's build prints; the interpreter runs in the
# tree (chroot), in a network namespace of its own (no route).
cj_wrapper_differential_in() {  # $1 = build root, $2 = suite
        local root=$1 w
        w=$(mktemp "$WORK/wrapper.XXXXXX")
        chroot "$root" /build/src/tests/wrapper/print-wrapper 0 >"$w" ||
                die "print-wrapper failed in the $2 tree"
        say "wrapper differential on $2's $(chroot "$root" /usr/bin/python3 -V 2>&1)"
        unshare --net -- /usr/bin/python3 "$TOP/tests/wrapper/differential.py" --wrapper "$w" --chroot "$root" \
                >"$WORK/differential-$2.out" 2>&1 ||
                { tail -30 "$WORK/differential-$2.out" >&2; die "wrapper differential failed on $2's Python"; }
        tail -3 "$WORK/differential-$2.out" | sed 's/^/   /'
}

cj_build_deb_in_tree() {  # $1 = suite; sets DEB
        local suite=$1 rev merged run
        if [ -n "$DEB" ]; then
                say "package: $(basename "$DEB") (given)"
                return 0
        fi
        rev=$(git -C "$TOP" rev-parse --short HEAD)
        mkdir -p "$WORK/src"
        git -C "$TOP" archive HEAD | tar -x -C "$WORK/src"
        cj_heavy_begin "the $suite build tree and the .deb"
        cj_build_tree "$suite" "$WORK/src"
        say "building the .deb in the $suite tree from git archive HEAD ($rev)"
        # A throw-away overlay: the cached tree stays as it was made.
        run=$WORK/buildrun
        mkdir -p "$run/upper" "$run/work" "$run/root"
        merged=$run/root
        mount -t overlay overlay -o "lowerdir=$BUILD_ROOT,upperdir=$run/upper,workdir=$run/work" "$merged"
        CJ_MOUNTS+=("$merged")
        mkdir -p "$merged/build"
        cp -a "$WORK/src" "$merged/build/src"
        # configure must find the release's llhttp through pkg-config
        # (libllhttp-dev), not compile node-llhttp's sources in place: both
        # are printed.
        if ! systemd-nspawn -q --register=no --keep-unit -M "cjb$$" -D "$merged" --chdir=/build/src \
                --setenv=CJ_LINTIAN="${CJ_LINTIAN:-1}" --setenv=CJ_LINTIAN_ARGS="$CJ_LINTIAN_ARGS" sh -c '
                dpkg-checkbuilddeps || exit 1
                mkdir -p /build/lintian && cp -a /build/src /build/lintian/codejail-service
                chown -R 65534:65534 /build
                setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/build sh -c "cd /build/src && exec dpkg-buildpackage -us -uc -b" \
                        >/build/build.log 2>&1 || { tail -30 /build/build.log; exit 1; }
                grep -E "^(SKIP|# TOTAL)" /build/build.log | sed "s/^/make check (unprivileged): /"
                dpkg -l libllhttp-dev node-llhttp 2>/dev/null | sed -n "s/^ii  */build-dep installed: /p"
                grep -iE "^checking .*llhttp|llhttp.*(pkg-config|found|sources)" /build/build.log | sed "s/^/configure: /"
                [ "${CJ_LINTIAN:-1}" = 0 ] || setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/build/lintian sh -c "
                        cd /build/lintian && dpkg-source -b codejail-service >/dev/null &&
                        lintian $CJ_LINTIAN_ARGS ../codejail-service_*.changes codejail-service_*.dsc" >/build/lintian.log 2>&1 || true' \
                >"$WORK/build-$suite.out" 2>&1; then
                cat "$WORK/build-$suite.out" >&2
                die "dpkg-buildpackage failed in the $suite tree"
        fi
        # (nspawn's note about /run/systemd on a host not run by systemd is noise)
        grep -v "^Attempted to remove disk file system" "$WORK/build-$suite.out" | sed 's/^/   /' || true
        cj_wrapper_differential_in "$merged" "$suite"
        cp "$merged"/build/codejail-service_*.deb "$merged"/build/codejail-service_*.changes "$WORK/"
        cp "$merged/build/build.log" "$WORK/build.log"
        cp "$merged/build/lintian.log" "$WORK/lintian.log" 2>/dev/null || true
        umount "$merged"
        rm -rf "$run"
        cj_heavy_end
        DEB=$(find "$WORK" -maxdepth 1 -name 'codejail-service_*_*.deb' ! -name '*dbgsym*' | head -1)
        say "package: $(basename "$DEB") (built in $suite)"
}

# ---- the Debian tree (cached) ---------------------------------------------------
cj_mirror() {
        [ -n "${CODEJAIL_TEST_MIRROR:-}" ] && { echo "$CODEJAIL_TEST_MIRROR"; return; }
        # The mirror apt already uses for bookworm (deb822 or one-line format).
        local m
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
                grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')
        echo "${m:-http://deb.debian.org/debian}"
}
# What a .deb declares (Depends and Recommends, first alternative each,
# versions dropped), comma-separated.
cj_deb_deps() {
        dpkg-deb -f "$1" Depends Recommends | sed 's/^[A-Za-z-]*: //' | tr ',' '\n' |
                sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd,
}

# $1 = Debian suite (default bookworm). Other releases also get what the
# .deb ($DEB, built for that release) declares, e.g. trixie's shared
# libllhttp; they are made with cj_debootstrap (apt resolves their
# dependencies), Debian 12's tree as it always was.
cj_rootfs() {
        local suite=${1:-bookworm} pkgs key log
        pkgs="systemd,systemd-sysv,dbus,libjansson4,libseccomp2,libapparmor1,libsystemd0"
        # The package's Depends and Recommends (dpkg -i installs no Recommends).
        pkgs+=",python3,python3-six,python3-numpy,python3-networkx,python3-matplotlib"
        pkgs+=",python3-scipy,python3-sympy,python3-lxml,python3-nltk,python3-pyparsing,python3-cryptography"
        # debootstrap does not resolve virtual packages: python3-cryptography
        # needs python3-cffi-backend-api-{min,max}, which this provides
        pkgs+=",python3-cffi-backend"
        # The package's autopkgtest (debian/tests) with autopkgtest's own
        # runner, and what its tests depend on beside the above.
        pkgs+=",autopkgtest,curl,jq,python3-pytest,python3-requests"
        if [ "$suite" != bookworm ]; then
                pkgs+=",$(cj_deb_deps "$DEB")"
                pkgs=$(tr ',' '\n' <<<"$pkgs" | sort -u | paste -sd,)
        fi
        key=$(printf '%s minbase %s v1' "$suite" "$pkgs" | sha256sum | cut -c1-12)
        BASE=$CACHE/rootfs-$suite-$key
        if [ ! -x "$BASE/usr/bin/python3" ]; then
                say "debootstrap $suite into $BASE (cold cache; mirror $(cj_mirror))"
                mkdir -p "$CACHE"
                rm -rf "$BASE.tmp"
                if [ "$suite" = bookworm ]; then
                        log=$CACHE/debootstrap.log
                        debootstrap --variant=minbase --include="$pkgs" bookworm "$BASE.tmp" "$(cj_mirror)" >"$log" 2>&1
                else
                        log=$CACHE/debootstrap-$suite.log
                        # shellcheck disable=SC2086
                        cj_debootstrap "$suite" "$BASE.tmp" "$log" ${pkgs//,/ }
                fi || { tail -20 "$log" >&2; die "debootstrap failed"; }
                chroot "$BASE.tmp" apt-get clean
                # A booted container needs no gettys or network management.
                rm -f "$BASE.tmp"/etc/systemd/system/getty.target.wants/* "$BASE.tmp/etc/machine-id"
                : >"$BASE.tmp/etc/machine-id"
                mv "$BASE.tmp" "$BASE"
        fi
        # A throw-away overlay per run (per host, when a caller boots several:
        # CJ_HOST): the cache stays pristine.
        RUN=$CACHE/runs/run.$$${CJ_HOST:+-$CJ_HOST}
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
# CJ_NETNS, CJ_NSPAWN_NET: a network namespace to start nspawn in and its
# network options there (default: neither, the host network); CJ_HOST names
# the container's console log.
cj_boot() {
        say "booting the container${CJ_HOST:+ $CJ_HOST}"
        NSPAWN_PID='' LEADER=''
        # The host is not necessarily run by systemd: --keep-unit --register=no keep
        # nspawn off the host's bus. Host network (unless CJ_NSPAWN_NET): the
        # container's loopback is ours.
        # nspawn 252's own seccomp allow-list predates Landlock (the jail needs it)
        # and refuses bpf() (systemd needs it to enforce IPAddressAllow/Deny=); both
        # are added back for the container -- a property of the harness, not of the
        # product, which runs on the host's systemd.
        # shellcheck disable=SC2086
        (
                cj_cgroup_enter
                exec ${CJ_NETNS:+nsenter --net=/run/netns/$CJ_NETNS} systemd-nspawn -b --register=no --keep-unit -q \
                        -D "$MERGED" -M "$CT" ${CJ_NSPAWN_NET:-} \
                        --system-call-filter="landlock_create_ruleset landlock_add_rule landlock_restrict_self bpf"
        ) </dev/null >>"$WORK/console${CJ_HOST:+-$CJ_HOST}.log" 2>&1 &
        NSPAWN_PID=$!
        local p
        for _ in $(seq 1 100); do
                for p in $(pgrep -P "$NSPAWN_PID"); do  # the container's PID 1, as the host sees it
                        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = systemd ] && { LEADER=$p; break 2; }
                done
                sleep 0.1
        done
        [ -n "$LEADER" ] || { cat "$WORK/console${CJ_HOST:+-$CJ_HOST}.log" >&2; die "container did not start"; }
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

# A cgroup of its own for each container. --keep-unit puts the container
# under its caller's cgroup (.../payload); where PID 1 is not systemd, every
# process sits in the root cgroup, so every container on the machine --
# this run's and other people's -- would share /payload: its systemd's unit
# cgroups, and with them the IPAddressAllow= BPF programs (attached by each
# container, they add up: one container's localhost-only socket refused
# another's balancer, measured) and systemd's kills. Only where the caller
# is at a hierarchy's root (elsewhere its cgroup is already its own).
# Runs in the subshell that then execs nspawn: it moves itself.
CJ_CGROUP_HIERARCHIES="/sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup"
cj_cgroup_enter() {
        local h
        for h in $CJ_CGROUP_HIERARCHIES; do
                [ -e "$h/cgroup.procs" ] && [ "$(cj_cgroup_of "$h")" = / ] || continue
                mkdir -p "$h/codejail-test-$CT" && echo "$BASHPID" >"$h/codejail-test-$CT/cgroup.procs"
        done
        return 0
}
cj_cgroup_of() {  # this process's cgroup in the hierarchy mounted at $1
        local type
        type=$(stat -f -c %T "$1")
        if [ "$type" = cgroup2fs ]; then
                sed -n 's/^0:://p' /proc/self/cgroup
        else
                sed -n "s/^[0-9]*:name=systemd://p" /proc/self/cgroup
        fi
}
# After the container is gone: its cgroups, leaves first.
cj_cgroup_remove() {  # $1 = the container's name (CT)
        local h
        for h in $CJ_CGROUP_HIERARCHIES; do
                [ -d "$h/codejail-test-$1" ] || continue
                for _ in $(seq 1 20); do
                        find "$h/codejail-test-$1" -depth -type d -exec rmdir {} + 2>/dev/null
                        [ -d "$h/codejail-test-$1" ] || break
                        sleep 0.25
                done
        done
        return 0
}

# The package's autopkgtest (debian/tests/control) in the booted container,
# by autopkgtest itself with the null runner run there as root: the
# container is the testbed (its own systemd as PID 1, a throw-away overlay).
# virt-null declares isolation-machine and, as root, root-on-testbed, so
# the tests run with their declared restrictions, none ignored. Tests from
# the git archive HEAD tree, the package from $DEB. $1 = a free loopback
# port for the service (the container shares the host's network: not 8080).
# A failed or skipped test, or a summary without every test, fails.
cj_autopkgtest() {
        local src=$MERGED/root/autopkgtest-src rc=0 want got
        rm -rf "$src" "$MERGED/root/autopkgtest-out"
        mkdir -p "$src"
        git -C "$TOP" archive HEAD | tar -x -C "$src"
        cp "$DEB" "$MERGED/root/"
        say "autopkgtest (null runner in the container): $(grep -c '^Tests:' "$src/debian/tests/control") test(s)"
        in_ct env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 autopkgtest --timeout-test=900 \
                --env=CODEJAIL_AUTOPKGTEST_PORT="$1" -o /root/autopkgtest-out \
                /root/autopkgtest-src "/root/$(basename "$DEB")" -- null >"$WORK/autopkgtest.log" 2>&1 || rc=$?
        cp "$MERGED/root/autopkgtest-out/summary" "$WORK/autopkgtest-summary.txt" 2>/dev/null || :
        sed 's/^/   /' "$WORK/autopkgtest-summary.txt" 2>/dev/null || true
        want=$(sed -n 's/^Tests: *//p' "$src/debian/tests/control" | tr ' ' '\n' | grep . | sort | paste -sd' ')
        got=$(awk '$2 == "PASS" { print $1 }' "$WORK/autopkgtest-summary.txt" 2>/dev/null | sort | paste -sd' ')
        if [ "$rc" = 0 ] && [ -n "$want" ] && [ "$got" = "$want" ]; then
                say "autopkgtest: $got passed"
        else
                grep -E '^(FAIL|ok|[a-z]+ +(FAIL|SKIP))|^E |FAILED|blame' "$WORK/autopkgtest.log" | tail -40 >&2 || true
                fail "autopkgtest: exit $rc (2: a test skipped, 4: failed, 12: erroneous package), passed '$got' of '$want'"
        fi
}

# Wait for GET $1/health/ = 200 (from CJ_NETNS when set); writes the body
# to $WORK/health.json.
cj_wait_health() {
        local code=
        for _ in $(seq 1 120); do
                # shellcheck disable=SC2086
                code=$(${CJ_NETNS:+nsenter --net=/run/netns/$CJ_NETNS} curl -s -o "$WORK/health.json" -w '%{http_code}' --max-time 5 "$1/health/" || true)
                [ "$code" = 200 ] && return 0
                sleep 0.5
        done
        fail "GET $1/health/ never answered 200 (last: $code)"
        in_ct systemctl status --no-pager codejail.socket codejail-selfcheck.service >&2 || true
        in_ct journalctl --no-pager -b -n 60 >&2 || true
        return 1
}
