/* SPDX-License-Identifier: Apache-2.0 */
/* UID picking: inside the range, uniform enough, and never handed to two
 * live holders at once (the OFD lock). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "uidpick.h"

static void test_random_in_range(void **state) {
        uid_t lo = 1u << 30, hi = (1u << 31) - 2, u;
        uid_t small_lo = 100000, small_hi = 100003;
        int seen[4] = { 0 };
        for (int i = 0; i < 2000; i++) {
                assert_int_equal(uidpick_random(lo, hi, &u), 0);
                assert_true(u >= lo && u <= hi);
                assert_int_equal(uidpick_random(small_lo, small_hi, &u), 0);
                assert_true(u >= small_lo && u <= small_hi);
                seen[u - small_lo]++;
        }
        for (int i = 0; i < 4; i++)
                assert_true(seen[i] > 350); /* ~500 each */
        assert_int_equal(uidpick_random(5, 4, &u), -EINVAL);
}

/* With a range of 2 uids, two holders get different uids and a third
 * fails with -EBUSY while both are held; after one releases, it succeeds. */
static void test_lock_excludes_live_holders(void **state) {
        char path[] = "/tmp/test-uidpick-XXXXXX";
        int tfd = mkstemp(path);
        assert_true(tfd >= 0);
        close(tfd);
        uid_t a, b, c;
        int fa, fb, fc;
        assert_int_equal(uidpick_acquire(path, 200000, 200001, &a, &fa), 0);
        assert_int_equal(uidpick_acquire(path, 200000, 200001, &b, &fb), 0);
        assert_int_not_equal(a, b);

        /* A separate process sees both taken. */
        pid_t pid = fork();
        if (pid == 0)
                _exit(uidpick_acquire(path, 200000, 200001, &c, &fc) == -EBUSY ? 0 : 1);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        close(fa);
        assert_int_equal(uidpick_acquire(path, 200000, 200001, &c, &fc), 0);
        assert_int_equal(c, a);
        close(fb);
        close(fc);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_in_range),
                cmocka_unit_test(test_lock_excludes_live_holders),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
