/* SPDX-License-Identifier: Apache-2.0 */
/* Privilege drop of the jailed child, in systemd's exec order: groups, gid,
 * uid, capabilities; each step checked by reading the state back, because
 * an unchecked setuid() is how sandboxes fail open (CVE-2006-2607 style). */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "creds.h"
#include "macro.h"

int creds_read_caps(struct cap_sets *c) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2] = { 0 };
        c->bounding = c->ambient = 0;
        for (int cap = 0; cap <= 63; cap++) {
                if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
                        c->bounding |= 1ULL << cap;
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
                        c->ambient |= 1ULL << cap;
        }
        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        c->effective = d[0].effective | (unsigned long long)d[1].effective << 32;
        c->permitted = d[0].permitted | (unsigned long long)d[1].permitted << 32;
        c->inheritable = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
        return 0;
}

static int capset_empty(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2] = { 0 };
        if (syscall(SYS_capset, &h, d) < 0)
                return negative_errno();
        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        for (int i = 0; i < 2; i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable)
                        return -EPERM;
        return 0;
}

int creds_drop_all_caps(void) {
        return capset_empty();
}

int creds_lock_securebits(void) {
        static const struct {
                unsigned long bit, lock;
        } pairs[] = {
                { SECBIT_NOROOT, SECBIT_NOROOT_LOCKED },
                { SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED },
                { 0 /* KEEP_CAPS off */, SECBIT_KEEP_CAPS_LOCKED },
                { SECBIT_NO_CAP_AMBIENT_RAISE, SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED },
        };
        int old = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        unsigned long want = 0;
        if (old < 0)
                return negative_errno();
        /* A bit its lock already holds (systemd's SecureBits=noroot-locked
         * locks NOROOT off) keeps its value: changing it is EPERM. */
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                unsigned long mask = pairs[i].lock >> 1; /* the bit the lock guards */
                want |= pairs[i].lock;
                want |= (unsigned long)old & pairs[i].lock ? (unsigned long)old & mask : pairs[i].bit;
        }
        if (prctl(PR_SET_SECUREBITS, want, 0, 0, 0) < 0)
                return negative_errno();
        return (unsigned long)prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == want ? 0 : -EPERM;
}

int creds_drop_bounding(void) {
        return creds_drop_bounding_except(0);
}

int creds_drop_bounding_except(unsigned long long keep) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return negative_errno();
        for (int cap = 0; cap <= 63; cap++) {
                if (keep & (1ULL << cap))
                        continue;
                int has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (has < 0 && errno == EINVAL)
                        break; /* past the kernel's last capability: so are the rest */
                if (has <= 0)
                        continue; /* already gone */
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                        return negative_errno();
        }
        return 0;
}

int creds_become(uid_t uid, gid_t gid, const char **step) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;

        *step = "setgroups";
        if (setgroups(0, NULL) < 0)
                return negative_errno();
        *step = "setresgid";
        if (setresgid(gid, gid, gid) < 0)
                return negative_errno();
        if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
                return -EPERM;
        *step = "setresuid";
        if (setresuid(uid, uid, uid) < 0)
                return negative_errno();
        if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid)
                return -EPERM;
        if (getgroups(0, NULL) != 0)
                return -EPERM;
        *step = "capabilities";
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return negative_errno();
        return capset_empty();
}

int creds_no_new_privs(void) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
                return -EPERM;
        return 0;
}
