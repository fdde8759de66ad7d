/* SPDX-License-Identifier: Apache-2.0 */
/* fd_write_all's whole writes and fd_read_small's one read of a small
 * file, on files of a scratch directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdio.h"

static char dir[64];
static int dfd = -1;

static int setup(void **state) {
        (void)state;
        snprintf(dir, sizeof dir, "/tmp/test-fdio-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return dfd < 0 ? -1 : 0;
}

static int teardown(void **state) {
        (void)state;
        unlinkat(dfd, "f", 0);
        unlinkat(dfd, "l", 0);
        close(dfd);
        return rmdir(dir);
}

static void write_file(const char *text) {
        int fd = openat(dfd, "f", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(fd_write_all(fd, text, strlen(text)), 0);
        close(fd);
}

/* What fits is read whole and ended with a NUL; an empty file is 0. */
static void test_read_small_whole(void **state) {
        (void)state;
        char buf[16];
        write_file("1 (a) R 0");
        assert_int_equal(fd_read_small(dfd, "f", buf, sizeof buf), 9);
        assert_string_equal(buf, "1 (a) R 0");
        write_file("");
        memset(buf, 'x', sizeof buf);
        assert_int_equal(fd_read_small(dfd, "f", buf, sizeof buf), 0);
        assert_string_equal(buf, "");
}

/* More than fits: size - 1 bytes, then the NUL. */
static void test_read_small_cut(void **state) {
        (void)state;
        char buf[5];
        write_file("abcdefgh");
        assert_int_equal(fd_read_small(dfd, "f", buf, sizeof buf), 4);
        assert_string_equal(buf, "abcd");
}

/* A missing file and a symbolic link are errors, not reads. */
static void test_read_small_refuses(void **state) {
        (void)state;
        char buf[16];
        write_file("secret");
        assert_int_equal(symlinkat("f", dfd, "l"), 0);
        assert_int_equal(fd_read_small(dfd, "l", buf, sizeof buf), -ELOOP);
        assert_int_equal(fd_read_small(dfd, "none", buf, sizeof buf), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_small_whole),
                cmocka_unit_test(test_read_small_cut),
                cmocka_unit_test(test_read_small_refuses),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
