/* SPDX-License-Identifier: Apache-2.0 */
/* AppArmor detection and the libapparmor calls on the running kernel.
 * Whether AppArmor is there decides what each answer must be; the guests
 * of the realhost tier (AppArmor enforcing) prove the transition itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "apparmor.h"

/* What the kernel says, read independently of apparmor.c. */
static bool lsm_list_has_apparmor(void) {
        char buf[512] = "";
        FILE *f = fopen("/sys/kernel/security/lsm", "re");
        if (!f) {
                f = fopen("/sys/module/apparmor/parameters/enabled", "re");
                bool y = f && fgets(buf, sizeof buf, f) && buf[0] == 'Y';
                if (f)
                        fclose(f);
                return y;
        }
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
                if (strcmp(t, "apparmor") == 0)
                        return true;
        return false;
}

static void test_present_matches_kernel(void **state) {
        (void)state;
        assert_int_equal(apparmor_present(), lsm_list_has_apparmor());
}

/* The reason detection is not libapparmor's: with a subset=pid procfs
 * there is no /proc/mounts, and the answer must not change. */
static void test_present_without_proc_mounts(void **state) {
        (void)state;
        bool expected = lsm_list_has_apparmor();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0)
                        _exit(2);
                if (access("/proc/mounts", F_OK) == 0)
                        _exit(3);
                _exit(apparmor_present() == expected ? 0 : 1);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
}

/* Without AppArmor the library's calls fail (never a made-up label);
 * with it, this test process is unconfined or confined, and says so. */
static void test_label_and_transition(void **state) {
        (void)state;
        char label[256];
        int r = apparmor_label_of(0, label, sizeof label);
        if (!apparmor_present()) {
                assert_true(r < 0);
                assert_false(apparmor_self_confined());
                assert_true(apparmor_change_onexec("codejail-sandbox", false) < 0);
                return;
        }
        assert_int_equal(r, 0);
        assert_true(strlen(label) > 0);
        assert_int_equal(apparmor_self_confined(), strcmp(label, "unconfined") != 0);
        char other[256];
        assert_int_equal(apparmor_label_of(getpid(), other, sizeof other), 0);
        assert_string_equal(label, other);
        assert_int_equal(apparmor_change_onexec("codejail-no-such-profile", false), -ENOENT);
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "test-apparmor: SKIP: a procfs of its own needs root (a mount namespace)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_present_matches_kernel),
                cmocka_unit_test(test_present_without_proc_mounts),
                cmocka_unit_test(test_label_and_transition),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
