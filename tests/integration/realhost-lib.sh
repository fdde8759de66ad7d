# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Host-side helpers of the real-host tier (sourced by realhost.sh after
# lib.sh, which builds the .deb for a release and holds the machine-wide
# heavy-job lock; bash, set -euo pipefail in the caller): the cached guest
# image of a Debian release, and one QEMU boot of it.
#
# Variables the caller sets: SUITE, WORK, CACHE, DEB (may be empty).
# Set here: RH_KERNEL, RH_INITRD, RH_IMAGE, RH_IMAGE_DIR, QEMU_PID,
# RH_LINTIAN_E, RH_LINTIAN_W (W:, I: and P: tags).

QEMU_PID=

# ---- tools -------------------------------------------------------------------
rh_need_tools() {
        cj_need_tools   # debootstrap, nspawn, dpkg-dev, debhelper, dh-apparmor, lintian, curl, pytest
        local need=()
        command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
        command -v qemu-img >/dev/null || need+=(qemu-utils)
        command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
        command -v flock >/dev/null || need+=(util-linux)
        command -v jq >/dev/null || need+=(jq)
        # The trixie archive is signed with the Debian 13 key.
        [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
        if [ ${#need[@]} -gt 0 ]; then
                say "installing ${need[*]}"
                apt-get update -q >/dev/null
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
        fi
}

# ---- clean-up ------------------------------------------------------------------
rh_cleanup() {
        local rc=$?
        if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
                kill -TERM "$QEMU_PID" 2>/dev/null || true
                for _ in $(seq 1 20); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.5; done
                kill -KILL "$QEMU_PID" 2>/dev/null || true
                wait "$QEMU_PID" 2>/dev/null || true
        fi
        [ -n "${LISTENER_PID:-}" ] && { kill "$LISTENER_PID" 2>/dev/null || true; wait "$LISTENER_PID" 2>/dev/null || true; }
        cj_umount_all
        cj_heavy_end
        if [ "${KEEP:-0}" = 1 ]; then
                echo "realhost: kept $WORK" >&2
        elif [ -n "${WORK:-}" ]; then
                rm -rf "$WORK"
        fi
        exit $rc
}

# ---- the .deb for the suite (lib.sh), and what lintian of that release says ----------
rh_build_deb() {
        if [ -n "$DEB" ]; then
                say "package: $(basename "$DEB") (given)"
                return 0
        fi
        cj_build_deb_for "$SUITE"
        RH_LINTIAN_E=$(grep -c '^E:' "$WORK/lintian.log" || true)
        RH_LINTIAN_W=$(grep -cE '^[WIP]:' "$WORK/lintian.log" || true)
        [ "${CJ_LINTIAN:-1}" = 0 ] || cj_lintian_verdict "$SUITE's own"
}

# ---- the guest image (cached) ---------------------------------------------------------
# The unit that runs the job: mounts the 9p share (tag "job") and runs its
# guest.sh; powers off when the script ends either way. Type=exec, not
# oneshot: the boot finishes (is-system-running: running) while the job
# runs. Not named codejail*: the purge check looks for anything of that name
# left in /etc/systemd/system.
RH_JOB_UNIT=cj-realhost-job.service
rh_job_unit() {
        cat <<'EOF'
[Unit]
Description=codejail-service real-host test job (tests/integration/realhost.sh)
After=multi-user.target

[Service]
Type=exec
ExecStart=/bin/sh -c 'mkdir -p /job && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /job && exec /bin/bash /job/guest.sh'
StandardOutput=journal+console
StandardError=journal+console
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Install]
WantedBy=multi-user.target
EOF
}

rh_image() {  # $1 = the .deb; sets RH_IMAGE_DIR, RH_IMAGE, RH_KERNEL, RH_INITRD
        local pkgs key tree dir
        # A kernel with AppArmor, the init, the AppArmor userspace, udev (the
        # 9p and virtio modules load through it), what the guest checks use,
        # and what the package needs.
        pkgs="linux-image-amd64,systemd-sysv,apparmor,udev,dbus,kmod,iproute2,curl,jq"
        pkgs+=",$(cj_deb_deps "$1")"
        pkgs=$(tr ',' '\n' <<<"$pkgs" | sort -u | paste -sd' ')
        key=$(printf '%s minbase %s %s %s v2' "$SUITE" "$pkgs" "$RH_JOB_UNIT" "$(rh_job_unit)" | sha256sum | cut -c1-12)
        dir=$CACHE/guest-$SUITE-$key
        RH_IMAGE_DIR=$dir
        RH_IMAGE=$dir/root.img
        RH_KERNEL=$dir/vmlinuz
        RH_INITRD=$dir/initrd.img
        if [ -s "$RH_IMAGE" ] && [ -s "$RH_KERNEL" ] && [ -s "$RH_INITRD" ]; then
                say "guest image: $dir (cached; $(cat "$dir/versions" 2>/dev/null | paste -sd' '))"
                return 0
        fi
        say "debootstrap $SUITE guest into $dir (cold cache; mirror $(cj_mirror))"
        say "  packages: $pkgs"
        cj_heavy_begin "debootstrap of the $SUITE guest"
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        tree=$dir.tmp/tree
        # shellcheck disable=SC2086
        cj_debootstrap "$SUITE" "$tree" "$dir.tmp/debootstrap.log" $pkgs ||
                { tail -20 "$dir.tmp/debootstrap.log" >&2; die "debootstrap $SUITE (guest) failed"; }
        # Nothing to fetch from in the guest: the package must install from what is here.
        rm -rf "$tree"/var/lib/apt/lists/*
        # netbase is not in minbase, but every real install has /etc/hosts (and
        # the deny tests read it expecting PermissionError).
        [ -e "$tree/etc/hosts" ] ||
                printf '127.0.0.1\tlocalhost\n127.0.1.1\tcj-realhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tree/etc/hosts"
        echo cj-realhost >"$tree/etc/hostname"
        echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$tree/etc/fstab"
        rm -f "$tree/etc/machine-id" && : >"$tree/etc/machine-id"
        # No resolver: the guest has no route out either (realhost.sh).
        rm -f "$tree/etc/resolv.conf" && : >"$tree/etc/resolv.conf"
        # Nothing on the consoles, nothing that tries the network on a timer.
        rm -f "$tree"/etc/systemd/system/getty.target.wants/*
        for u in serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
                fstrim.timer man-db.timer dpkg-db-backup.timer; do
                ln -sf /dev/null "$tree/etc/systemd/system/$u"
        done
        rh_job_unit >"$tree/etc/systemd/system/$RH_JOB_UNIT"
        mkdir -p "$tree/etc/systemd/system/multi-user.target.wants"
        ln -sf /etc/systemd/system/$RH_JOB_UNIT \
                "$tree/etc/systemd/system/multi-user.target.wants/$RH_JOB_UNIT"
        cp "$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -1)" "$dir.tmp/vmlinuz"
        cp "$(ls "$tree"/boot/initrd.img-* | sort -V | tail -1)" "$dir.tmp/initrd.img"
        chroot "$tree" dpkg-query -W -f '${Package} ${Version}\n' >"$dir.tmp/packages"
        awk '$1 ~ /^(linux-image-[0-9].*|systemd|apparmor|python3)$/ { print $1 "=" $2 }' "$dir.tmp/packages" >"$dir.tmp/versions"
        # A sparse 6 GiB ext4 made from the tree: each run boots a qcow2 overlay of it.
        mkfs.ext4 -q -F -L cjroot -d "$tree" "$dir.tmp/root.img" 6G >/dev/null ||
                die "mkfs.ext4 -d failed"
        rm -rf "$tree"
        cj_heavy_end
        cj_prune "$CACHE/guest-$SUITE-"
        mv "$dir.tmp" "$dir"
        say "guest image ready: $(paste -sd' ' "$dir/versions")"
}

# ---- one boot -----------------------------------------------------------------------
# $1 = run dir (disk overlay), $2 = share dir, $3 = console log, $4.. hostfwd specs.
# Restricted user networking: the guest can reach nothing (restrict=on drops
# every connection it starts, to 10.0.2.2 too); only the forwarded host
# ports reach in. No default route in the guest either (guest.sh).
rh_boot() {
        local run=$1 share=$2 console=$3 fwd
        shift 3
        fwd=$(printf ',hostfwd=%s' "$@")
        qemu-img create -q -f qcow2 -F raw -b "$RH_IMAGE" "$run/disk.qcow2"
        qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 4096 \
                -nodefaults -no-user-config -display none -no-reboot \
                -serial "file:$console" \
                -kernel "$RH_KERNEL" -initrd "$RH_INITRD" \
                -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 audit_backlog_limit=8192" \
                -drive "file=$run/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
                -virtfs "local,path=$share,mount_tag=job,security_model=none,id=job" \
                -netdev "user,id=n0,restrict=on$fwd" -device virtio-net-pci,netdev=n0,romfile= \
                -device virtio-rng-pci \
                </dev/null >"$run/qemu.log" 2>&1 9>&- &
        QEMU_PID=$!
}
