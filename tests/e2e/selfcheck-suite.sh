#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check tier: `codejaild --selfcheck` passes with every layer on, and
# fails -- with a failing check naming the problem in health.json -- when any
# one layer is switched off (sabotage build) or AppArmor is required on a
# kernel without it. The probes only list /, start `date`, create (never
# connect) an AF_INET socket and call setuid(0): safe even with a layer off.
set -uo pipefail
: "${top_builddir:?}"
BIN=$top_builddir/src/codejaild
SAB=$top_builddir/src/codejaild-sabotage
# Without root (a build daemon): SKIP, naming why; tests/run-all.sh fails
# the check tier when anything was skipped.
if [ "$(id -u)" != 0 ]; then
        echo "selfcheck-suite: SKIP: the jail needs root (namespaces, setresuid, mounts); tests/run-all.sh runs it as root"
        exit 77
fi
# A private /tmp (own mount namespace): jail directories of executions
# running elsewhere on the machine cannot be mistaken for leftovers. And a
# network namespace of the suite's own with a route out (routed-netns.sh: a
# veth pair, nothing sent): the service_no_egress probe must have a route to
# see with netns_self off, and the verdict must not depend on whether the
# suite was started on a host with a route or in a loopback-only namespace.
if [ "${SELFCHECK_SUITE_PRIVATE_TMP:-}" != 1 ]; then
        tests=$(cd "$(dirname "$0")/.." && pwd)
        exec unshare --mount --net --propagation private -- env SELFCHECK_SUITE_PRIVATE_TMP=1 \
                "$tests/routed-netns.sh" \
                "$tests/private-tmp.sh" "$top_builddir" "$(dirname "$0")" -- bash "$(realpath "$0")"
fi
T=$(mktemp -d /tmp/cj-selfcheck.XXXXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

failed_checks() { # names of failing checks in health.json
        /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(" ".join(c["name"] for c in s["checks"] if not c["pass"]), "|", s["status"])' "$1"
}

echo "{\"enabled\": true, \"state_dir\": \"$T/ok\"}" >"$T/ok.json"
if "$BIN" --config "$T/ok.json" --selfcheck 2>"$T/ok.err"; then
        ok "all layers: selfcheck passes ($(failed_checks "$T/ok/health.json"))"
else
        bad "all layers: selfcheck failed: $(cat "$T/ok.err")"
fi

# The JWT verifier is a plugin (src/authload.c): loaded with jwt_jwks_file
# set, from the build tree's .libs/ here; a copy of the binary with no
# plugin, a plugin others may write, one in a directory others may write or
# reached through a symbolic link, or another library in its place fails
# the configuration, never silently turning authentication off. What is
# loaded is the descriptor that was checked, not the path again.
: "${top_srcdir:?}"
printf '{"enabled": true, "state_dir": "%s", "jwt_jwks_file": "%s", "jwt_issuers": ["https://lms.example.com/oauth2"], "jwt_audiences": ["codejail"], "jwt_usernames": ["codejail_worker"]}\n' \
        "$T/jwt" "$top_srcdir/tests/data/auth/jwks.json" >"$T/jwt.json"
if "$BIN" --config "$T/jwt.json" --selfcheck 2>"$T/jwt.err"; then
        ok "jwt_jwks_file set: the verifier plugin loads, selfcheck passes"
else
        bad "jwt_jwks_file set: selfcheck failed: $(cat "$T/jwt.err")"
fi
mkdir -p "$T/bin"
cp "$BIN" "$T/bin/codejaild"
plugin_refused() { # $1 what  $2 expected text in the error
        if "$T/bin/codejaild" --config "$T/jwt.json" --selfcheck 2>"$T/jwt.err"; then
                bad "verifier plugin $1: the configuration was accepted"
        elif grep -q "loading the JWT verifier: .*$2" "$T/jwt.err"; then
                ok "verifier plugin $1: configuration refused ($2)"
        else
                bad "verifier plugin $1: wrong error: $(cat "$T/jwt.err")"
        fi
}
plugin_refused "missing" "not found"
mkdir -p "$T/bin/.libs"
install -m 0664 "$top_builddir/src/.libs/codejail-auth.so" "$T/bin/.libs/codejail-auth.so"
plugin_refused "group-writable" "writable only by it"
install -m 0644 "$top_builddir/src/.libs/codejail-auth.so" "$T/bin/.libs/codejail-auth.so"
chmod 0777 "$T/bin/.libs"
plugin_refused "in a directory others may write" "$T/bin/.libs: a directory on the way .* writable by others"
chmod 0755 "$T/bin/.libs"
mv "$T/bin/.libs" "$T/bin/libs-real"
ln -s libs-real "$T/bin/.libs"
plugin_refused "behind a symbolic link" "$T/bin/.libs: not a directory (a symbolic link on the way?)"
rm "$T/bin/.libs"
mv "$T/bin/libs-real" "$T/bin/.libs"
# /tmp's kind of directory (sticky, root's) keeps what is in it safe
chmod 1777 "$T/bin/.libs"
if LD_DEBUG=files "$T/bin/codejaild" --config "$T/jwt.json" --selfcheck 2>"$T/jwt.err"; then
        ok "verifier plugin in a sticky directory of root's: loads"
else
        bad "verifier plugin in a sticky directory of root's: $(grep -v '^ *[0-9]*:' "$T/jwt.err")"
fi
chmod 0755 "$T/bin/.libs"
loaded=$(grep -o 'file=[^ ]*codejail-auth[^ ]*\|file=/proc/self/fd/[0-9]*' "$T/jwt.err" | sort -u | tr '\n' ' ')
if [[ $loaded == "file=/proc/self/fd/"[0-9]*" " ]]; then
        ok "verifier plugin loaded through the descriptor that was checked ($loaded)"
else
        bad "verifier plugin loaded by path, not by the checked descriptor: ${loaded:-nothing found}"
fi
install -m 0644 "$(ldd "$BIN" | awk '/libjansson/ { print $3 }')" "$T/bin/.libs/codejail-auth.so"
plugin_refused "another library" "not this build's JWT verifier"

# Each layer off on its own must be caught; the expected failing check
# (self_*: the serving process's own in-process hardening, harden.c):
declare -A expect=(
        [landlock]=deny_listdir_root [seccomp]=deny_exec_date [exec_once]=layer_seccomp
        [uid]=deny_setuid_0 [namespaces]=layer_namespaces_uid_rlimits [mounts]=layer_namespaces_uid_rlimits
        [rlimits]=layer_namespaces_uid_rlimits [caps]=layer_namespaces_uid_rlimits
        [nnp]=layer_landlock [netns_self]=service_no_egress
        [root]="deny_host_root_visible deny_host_root_reached"
        [self_seccomp]="service_seccomp_no_inet_socket service_seccomp_wx_memory service_seccomp_suid
                service_seccomp_namespaces service_seccomp_hostname service_seccomp_personality service_seccomp_foreign_arch
                service_seccomp_allowlist"
        [self_caps]=service_capabilities [self_dumpable]=service_not_dumpable
        [self_mounts]="service_filesystem_readonly service_proc_restricted"
        [self_ns]="service_uts_private service_ipc_private"
        [self_scope]=service_signal_scope
        # realtime scheduling is refused by the kernel (no CAP_SYS_NICE) and
        # by the filter: only both off let it through
        [self_caps,self_seccomp]=service_no_realtime
        # the parsing side of an instance (privsep.c): with its drop off it
        # keeps the parent's four capabilities and has no allow-list of its
        # own; no_new_privs and not-dumpable it also inherits from the
        # parent's hardening, so only both off show those gone
        [privsep]="privsep_capabilities privsep_deny_open privsep_deny_socket privsep_deny_mount
                privsep_deny_unshare privsep_deny_execve privsep_deny_fork privsep_deny_setuid"
        [privsep,self_seccomp]=privsep_no_new_privs
        [privsep,self_dumpable]=privsep_not_dumpable
        # ptrace of the privileged side: refused by the service filter, and
        # by the kernel (the parent is not dumpable); only all off let it
        [privsep,self_seccomp,self_dumpable]=privsep_deny_ptrace
)
# Every expected check must be among the failing ones.
all_in() { # "wanted names" "failing names"
        local w
        for w in $1; do [[ " $2 " == *" $w "* ]] || return 1; done
}
for layer in landlock seccomp exec_once uid namespaces mounts root rlimits caps nnp netns_self \
        self_seccomp self_caps self_dumpable self_mounts self_ns self_scope self_caps,self_seccomp \
        privsep privsep,self_seccomp privsep,self_dumpable privsep,self_seccomp,self_dumpable; do
        echo "{\"enabled\": true, \"state_dir\": \"$T/$layer\"}" >"$T/$layer.json"
        CODEJAIL_SABOTAGE=$layer "$SAB" --config "$T/$layer.json" --selfcheck 2>"$T/$layer.err"
        rc=$?
        got=$(failed_checks "$T/$layer/health.json" 2>/dev/null)
        if [ $rc = 1 ] && all_in "${expect[$layer]}" "${got%|*}" && [[ $got == *FAILED ]]; then
                ok "$layer off: selfcheck fails ($got)"
        else
                bad "$layer off: rc=$rc failing=[$got], wanted ${expect[$layer]}"
        fi
done

# The parsing side's probes tried for real: with its drop off, a file
# opened and a process started.
if grep -q '"detail": "open(/etc/passwd): opened"' "$T/privsep/health.json" &&
        grep -q '"detail": "fork: a process started"' "$T/privsep/health.json"; then
        ok "privsep off: the open and fork probes themselves report success"
else
        bad "privsep off: the open/fork probes did not notice"
fi
# The probes must really see the layer gone, not only the layer report:
# with Landlock off, listing / is allowed and the probe says so.
if grep -q '"detail": "allowed"' "$T/landlock/health.json"; then
        ok "landlock off: the listdir probe itself reports 'allowed'"
else
        bad "landlock off: the listdir probe did not notice"
fi
# With netns_self off the egress probe names what it saw in this
# namespace (the veth pair or its route).
if grep -Eq '"detail": "(non-loopback interface |route: )cjveth' "$T/netns_self/health.json"; then
        ok "netns_self off: the egress probe itself names the veth pair"
else
        bad "netns_self off: the egress probe did not name the veth pair"
fi

# Already in a loopback-only namespace (systemd's PrivateNetwork=), the
# service keeps it rather than making its own; the selfcheck passes there
# as well.
echo "{\"enabled\": true, \"state_dir\": \"$T/lo\"}" >"$T/lo.json"
if unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh "$BIN" --config "$T/lo.json" --selfcheck 2>"$T/lo.err" &&
        grep -q '"detail": "only loopback"' "$T/lo/health.json"; then
        ok "all layers, loopback-only namespace: selfcheck passes ($(failed_checks "$T/lo/health.json"))"
else
        bad "all layers, loopback-only namespace: $(failed_checks "$T/lo/health.json" 2>/dev/null) $(cat "$T/lo.err")"
fi

echo "{\"enabled\": true, \"state_dir\": \"$T/aa\", \"apparmor\": \"require\"}" >"$T/aa.json"
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
        echo "note: this kernel has AppArmor; 'require' is checked by the integration test"
else
        "$BIN" --config "$T/aa.json" --selfcheck 2>/dev/null
        rc=$?
        got=$(failed_checks "$T/aa/health.json")
        [ $rc = 1 ] && [[ $got == *layer_apparmor* ]] && ok "apparmor=require without AppArmor: fails ($got)" \
                || bad "apparmor=require: rc=$rc failing=[$got]"
fi

# sandbox_required_modules: present ones pass with their version in
# health.json; a missing one fails the selfcheck, named.
echo "{\"enabled\": true, \"state_dir\": \"$T/mods\", \"sandbox_required_modules\": [\"six\", \"json\"]}" >"$T/mods.json"
if "$BIN" --config "$T/mods.json" --selfcheck 2>/dev/null &&
        /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["sandbox_modules"]; sys.exit(not (m["six"] and "json" in m))' "$T/mods/health.json"; then
        ok "required modules present: selfcheck passes, versions listed"
else
        bad "required modules present: $(failed_checks "$T/mods/health.json")"
fi
echo "{\"enabled\": true, \"state_dir\": \"$T/nomod\", \"sandbox_required_modules\": [\"six\", \"cj_no_such_module\"]}" >"$T/nomod.json"
"$BIN" --config "$T/nomod.json" --selfcheck 2>/dev/null
rc=$?
got=$(failed_checks "$T/nomod/health.json")
if [ $rc = 1 ] && [ "${got%|*}" = "sandbox_module_cj_no_such_module " ] &&
        grep -q "No module named 'cj_no_such_module'" "$T/nomod/health.json"; then
        ok "a required module missing: selfcheck fails naming it ($got)"
else
        bad "a required module missing: rc=$rc failing=[$got]"
fi

# Nothing of any execution left behind.
# (only the UIDs this suite's probes used: other executions may be live on a
# shared machine)
uids=$(cat "$T"/*/health.json | grep -o '"detail": "uid [0-9]*' | awk '$3 >= 1073741824 {print $3}' | sort -u)
left=0
for u in $uids; do left=$((left + $(ps -eo uid= | awk -v u="$u" '$1 == u' | wc -l))); done
[ -n "$uids" ] && [ "$left" = 0 ] && ok "no process of the $(echo $uids | wc -w) probe uids remains" \
        || bad "$left processes of probe uids remain (uids: $(echo $uids | wc -w))"
# A jail dir is /tmp/codejail-XXXXXXXX (jail.c); not a build tree bound back
# into this private /tmp (the booted tier builds under /tmp/codejail-nspawn.*).
dirs=$(find /tmp -maxdepth 1 -regextype posix-extended -regex '/tmp/codejail-[a-z0-9_]{8}' | wc -l)
[ "$dirs" = 0 ] && ok "no jail directory remains" || bad "$dirs jail directories remain"

# The route was only there to be seen: not one packet left either end.
tx=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); split($2, f, " ") }
        $1 ~ /^cjveth[01]$/ { n++; sum += f[10] } END { print n + 0, sum + 0 }' /proc/self/net/dev)
[ "$tx" = "2 0" ] && ok "no packet sent on the veth pair" \
        || bad "veth pair: [devices, packets sent] = [$tx], wanted [2 0]"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
