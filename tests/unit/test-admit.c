/* SPDX-License-Identifier: Apache-2.0 */
/* Admission control (src/admit.c) on the running kernel: slots exclude,
 * waiters are admitted in arrival order, only the head of the queue wakes
 * when the turnstile is released, the deadline and a client's hang-up end a
 * wait, a half-closed client is only timed, kill -9 leaks nothing, and the
 * process's signal state is put back. Waiters are child processes: each
 * instance of the service is one. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "admit.h"

#define MAX_KIDS 16

static char path[64];
static unsigned long ino;

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int setup(void **state) {
        snprintf(path, sizeof path, "/tmp/test-admit-XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
                return -1;
        struct stat st;
        fstat(fd, &st);
        ino = (unsigned long)st.st_ino;
        close(fd);
        return 0;
}

static int teardown(void **state) {
        unlink(path);
        return 0;
}

/* Locks on our file in /proc/locks: granted ones and blocked requests,
 * on the turnstile and the slots (the waiters' own bytes are
 * test_waiting_counted's). */
static void count_locks(int *held, int *blocked) {
        char line[256], needle[32];
        snprintf(needle, sizeof needle, ":%lu ", ino);
        *held = *blocked = 0;
        FILE *f = fopen("/proc/locks", "re");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
                const char *at = strstr(line, needle);
                long long start = -1;
                if (at && sscanf(at + strlen(needle), "%lld", &start) == 1 && start < ADMIT_WAIT_BASE) {
                        if (strstr(line, "->"))
                                (*blocked)++;
                        else
                                (*held)++;
                }
        }
        fclose(f);
}

static void wait_locks(int held, int blocked) {
        int h = -1, b = -1;
        for (int i = 0; i < 500; i++) {
                count_locks(&h, &b);
                if (h == held && b == blocked)
                        return;
                sleep_ms(10);
        }
        fail_msg("locks on the file: %d held, %d blocked; waited for %d held, %d blocked", h, b, held, blocked);
}

/* A waiter: admit_enter, then report its id on `report`, hold the slot
 * for hold_ms, exit (which frees the slot). Exit status: 0 admitted, 1
 * timed out, 2 client gone, 3 other error. */
static const char *probe; /* the waiters' (NULL: HTTP/1.0's grace rule) */

static pid_t waiter(int id, unsigned slots, uint64_t timeout_ms, int client_fd, int report, int hold_ms) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Not the parent's slots (a copy of its fd would keep its lock). */
        for (int fd = 3; fd < 1024; fd++)
                if (fd != report && fd != client_fd)
                        close(fd);
        struct admit_ticket t = ADMIT_TICKET_NULL;
        uint64_t waited;
        struct admit_client client = { .fd = client_fd, .since_ns = now_ms() * 1000000, .probe = probe };
        int r = admit_enter(path, slots, 0, timeout_ms, &client, &t, &waited);
        if (r == -ETIMEDOUT)
                _exit(1);
        if (r == -ECONNABORTED)
                _exit(2);
        if (r < 0)
                _exit(3);
        unsigned char c = (unsigned char)id;
        if (report >= 0 && write(report, &c, 1) != 1)
                _exit(3);
        sleep_ms(hold_ms);
        admit_leave(&t);
        _exit(0);
}

static int exit_code(pid_t pid) {
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long voluntary_switches(pid_t pid) {
        char p[64], line[128];
        long v = -1;
        snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
        FILE *f = fopen(p, "re");
        assert_non_null(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static void test_slots_exclude(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL, b = ADMIT_TICKET_NULL, c = ADMIT_TICKET_NULL;
        uint64_t w;
        assert_int_equal(admit_enter(path, 2, 0, 0, NULL, &a, &w), 0);
        assert_int_equal(admit_enter(path, 2, 0, 0, NULL, &b, &w), 0);
        assert_int_not_equal(a.slot, b.slot);
        /* Full: no wait configured, so at once. */
        assert_int_equal(admit_enter(path, 2, 0, 0, NULL, &c, &w), -ETIMEDOUT);
        assert_int_equal(c.fd, -1);
        admit_leave(&a);
        assert_int_equal(admit_enter(path, 2, 0, 0, NULL, &c, &w), 0);
        admit_leave(&b);
        admit_leave(&c);
        admit_leave(&c); /* idempotent */
        assert_int_equal(admit_enter(path, 0, 0, 0, NULL, &c, &w), -EINVAL);
        assert_int_equal(admit_enter("/nonexistent/dir/admission.lock", 1, 0, 0, NULL, &c, &w), -ENOENT);
}

static void test_timeout(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL, b = ADMIT_TICKET_NULL;
        uint64_t w;
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        uint64_t t0 = now_ms();
        /* At the head of the queue (polling for a slot)... */
        assert_int_equal(admit_enter(path, 1, 0, 300, NULL, &b, &w), -ETIMEDOUT);
        assert_true(w >= 300 && w < 3000);
        assert_true(now_ms() - t0 >= 300);
        /* ... and asleep behind another waiter (the deadline's alarm). */
        pid_t head = waiter(0, 1, 5000, -1, -1, 0);
        wait_locks(2, 0);
        t0 = now_ms();
        assert_int_equal(admit_enter(path, 1, 0, 300, NULL, &b, &w), -ETIMEDOUT);
        assert_true(w >= 300 && w < 3000);
        admit_leave(&a);
        assert_int_equal(exit_code(head), 0);
}

/* Waiters are admitted in the order they arrived, one slot at a time. */
static void test_fifo_order(void **state) {
        enum { K = 12 };
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int p[2];
        pid_t kids[K];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        for (int i = 0; i < K; i++) {
                kids[i] = waiter(i, 1, 20000, -1, p[1], 5);
                /* the first holds the turnstile; the others sleep in line */
                wait_locks(2, i);
        }
        close(p[1]);
        admit_leave(&a);
        unsigned char order[K];
        size_t n = 0;
        while (n < K) {
                ssize_t k = read(p[0], order + n, K - n);
                assert_true(k > 0);
                n += (size_t)k;
        }
        close(p[0]);
        for (int i = 0; i < K; i++) {
                if (order[i] != i)
                        fail_msg("admitted %d as number %d", order[i], i);
                assert_int_equal(exit_code(kids[i]), 0);
        }
}

/* Releasing the turnstile wakes the next waiter only: the others stay
 * asleep in the kernel (their voluntary context switches do not move). */
static void test_no_thundering_herd(void **state) {
        enum { K = 8 };
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int p[2];
        pid_t kids[K];
        long before[K];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        for (int i = 0; i < K; i++) {
                kids[i] = waiter(i, 1, 20000, -1, p[1], i == 0 ? 600 : 1);
                wait_locks(2, i);
        }
        close(p[1]);
        for (int i = 2; i < K; i++)
                before[i] = voluntary_switches(kids[i]);
        /* 0 gets the slot and keeps it 600 ms; 1 becomes the head and polls;
         * 2..K-1 must not wake. */
        admit_leave(&a);
        unsigned char c;
        assert_int_equal(read(p[0], &c, 1), 1);
        assert_int_equal(c, 0);
        wait_locks(2, K - 2);
        sleep_ms(300);
        for (int i = 2; i < K; i++) {
                long now = voluntary_switches(kids[i]);
                if (now != before[i])
                        fail_msg("waiter %d woke up %ld times while 0 held the slot", i, now - before[i]);
        }
        for (int i = 1; i < K; i++) {
                assert_int_equal(read(p[0], &c, 1), 1);
                assert_int_equal(c, i);
        }
        close(p[0]);
        for (int i = 0; i < K; i++)
                assert_int_equal(exit_code(kids[i]), 0);
}

/* A hang-up ends the wait at once, asleep in line or at the head. */
static void test_client_gone(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int head_sv[2], tail_sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, head_sv), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tail_sv), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        pid_t head = waiter(0, 1, 10000, head_sv[1], -1, 0);
        wait_locks(2, 0);
        pid_t tail = waiter(1, 1, 10000, tail_sv[1], -1, 0);
        wait_locks(2, 1);
        close(head_sv[1]);
        close(tail_sv[1]);

        uint64_t t0 = now_ms();
        close(tail_sv[0]); /* asleep in line: SIGIO */
        assert_int_equal(exit_code(tail), 2);
        assert_true(now_ms() - t0 < 3000);
        t0 = now_ms();
        close(head_sv[0]); /* at the head: its poll */
        assert_int_equal(exit_code(head), 2);
        assert_true(now_ms() - t0 < 3000);
        wait_locks(1, 0);
        admit_leave(&a);
}

/* Data from a client that is still there (pipelined bytes) interrupts the
 * sleep but is no reason to leave. */
static void test_client_data_is_not_gone(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        pid_t head = waiter(0, 1, 10000, -1, -1, 0);
        wait_locks(2, 0);
        pid_t tail = waiter(1, 1, 10000, sv[1], -1, 0);
        wait_locks(2, 1);
        close(sv[1]);
        assert_int_equal(write(sv[0], "x", 1), 1);
        sleep_ms(100);
        wait_locks(2, 1); /* back in line */
        admit_leave(&a);
        assert_int_equal(exit_code(head), 0);
        assert_int_equal(exit_code(tail), 0);
        close(sv[0]);
}

/* A client that shut its sending side before the wait (as some HTTP
 * clients do after the request) is not taken for gone: only timed. */
static void test_half_closed_client_is_timed(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        pid_t head = waiter(0, 1, 400, sv[1], -1, 0);
        assert_int_equal(exit_code(head), 1);
        admit_leave(&a);
        close(sv[0]);
        close(sv[1]);
}

/* A client that shuts its sending side just after its request (its FIN
 * came a little after the request) is waiting for its answer: it stays in
 * line. The same FIN past the grace is a hang-up. A reset or close seen as
 * such at the start: no wait at all. */
static void test_half_close_in_grace_then_hang_up(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL, b = ADMIT_TICKET_NULL;
        uint64_t w;
        int early[2], late[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, early), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, late), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        pid_t head = waiter(0, 1, 20000, late[1], -1, 0);
        wait_locks(2, 0);
        pid_t tail = waiter(1, 1, 20000, early[1], -1, 0);
        wait_locks(2, 1);
        close(late[1]);
        close(early[1]);
        assert_int_equal(shutdown(early[0], SHUT_WR), 0); /* within the grace */
        sleep_ms(200);
        wait_locks(2, 1); /* still in line */
        sleep_ms(ADMIT_HALF_CLOSE_GRACE_MS);
        uint64_t t0 = now_ms();
        assert_int_equal(shutdown(late[0], SHUT_WR), 0); /* past it: gone */
        assert_int_equal(exit_code(head), 2);
        assert_true(now_ms() - t0 < 3000);
        admit_leave(&a);
        assert_int_equal(exit_code(tail), 0); /* admitted: it was never gone */
        close(early[0]);
        close(late[0]);

        int gone[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gone), 0);
        close(gone[0]);
        struct admit_client c = { .fd = gone[1], .since_ns = now_ms() * 1000000 };
        assert_int_equal(admit_enter(path, 1, 0, 5000, &c, &b, &w), -ECONNABORTED);
        assert_int_equal(w, 0);
        close(gone[1]);
}

/* With a probe (HTTP/1.1), a FIN is answered with it, once, and the
 * waiter stays in line watching for the reset a closed client sends back:
 * one asleep in the kernel's queue (woken by SIGIO) and the head alike. */
static void test_fin_probed_then_reset(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL;
        uint64_t w;
        int hd[2], tl[2];
        char buf[64];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hd), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tl), 0);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        probe = ADMIT_PROBE;
        pid_t head = waiter(0, 1, 20000, hd[1], -1, 0);
        wait_locks(2, 0);
        pid_t tail = waiter(1, 1, 20000, tl[1], -1, 0);
        wait_locks(2, 1);
        probe = NULL;
        close(hd[1]);
        close(tl[1]);
        assert_int_equal(shutdown(hd[0], SHUT_WR), 0);
        assert_int_equal(shutdown(tl[0], SHUT_WR), 0);
        sleep_ms(300);
        for (int i = 0; i < 2; i++) {
                int fd = i ? tl[0] : hd[0];
                assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), (ssize_t)strlen(ADMIT_PROBE));
                assert_memory_equal(buf, ADMIT_PROBE, strlen(ADMIT_PROBE));
                assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1); /* once */
        }
        wait_locks(2, 1); /* both still in line */
        uint64_t t0 = now_ms();
        close(tl[0]);
        assert_int_equal(exit_code(tail), 2);
        close(hd[0]);
        assert_int_equal(exit_code(head), 2);
        assert_true(now_ms() - t0 < 1000);
        admit_leave(&a);
}

/* kill -9 of a slot holder and of a waiter in line: the slot and the place
 * are freed by the kernel, the others go on in order. */
static void test_kill_leaks_nothing(void **state) {
        int p[2];
        uint64_t w;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t holder = waiter(9, 1, 0, -1, p[1], 100000);
        unsigned char c;
        assert_int_equal(read(p[0], &c, 1), 1);
        pid_t kids[4];
        for (int i = 0; i < 4; i++) {
                kids[i] = waiter(i, 1, 20000, -1, p[1], 5);
                wait_locks(2, i);
        }
        close(p[1]);
        kill(kids[2], SIGKILL);
        assert_int_equal(exit_code(kids[2]), 128 + SIGKILL);
        wait_locks(2, 2);
        kill(holder, SIGKILL);
        assert_int_equal(exit_code(holder), 128 + SIGKILL);
        const int want[] = { 0, 1, 3 };
        for (int i = 0; i < 3; i++) {
                assert_int_equal(read(p[0], &c, 1), 1);
                assert_int_equal(c, want[i]);
        }
        close(p[0]);
        assert_int_equal(exit_code(kids[0]), 0);
        assert_int_equal(exit_code(kids[1]), 0);
        assert_int_equal(exit_code(kids[3]), 0);
        /* Everything free again: N slots at once, without waiting. */
        struct admit_ticket t[3] = { ADMIT_TICKET_NULL, ADMIT_TICKET_NULL, ADMIT_TICKET_NULL };
        for (int i = 0; i < 3; i++)
                assert_int_equal(admit_enter(path, 3, 0, 0, NULL, &t[i], &w), 0);
        for (int i = 0; i < 3; i++)
                admit_leave(&t[i]);
        wait_locks(0, 0);
}

/* admit_count: running and waiting read from the kernel's locks, equal
 * to what /proc/locks shows, and right again at once after kill -9 of a
 * waiter (the head of the queue among them) and of a holder. */
static void wait_count(int fd, unsigned running, unsigned waiting) {
        unsigned r = 0, w = 0;
        for (int i = 0; i < 500; i++) {
                assert_int_equal(admit_count(fd, &r, &w), 0);
                if (r == running && w == waiting)
                        return;
                sleep_ms(10);
        }
        fail_msg("admit_count: %u running, %u waiting; waited for %u and %u", r, w, running, waiting);
}

static void test_waiting_counted(void **state) {
        enum { K = 5 };
        int p[2];
        unsigned char c;
        int fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        wait_count(fd, 0, 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t holders[2];
        for (int i = 0; i < 2; i++) {
                holders[i] = waiter(20 + i, 2, 0, -1, p[1], 100000);
                assert_int_equal(read(p[0], &c, 1), 1);
        }
        wait_count(fd, 2, 0);
        pid_t kids[K];
        for (int i = 0; i < K; i++) {
                kids[i] = waiter(i, 2, 20000, -1, p[1], 100000);
                wait_locks(3, i); /* two slots and the head's turnstile; i asleep behind it */
                wait_count(fd, 2, (unsigned)i + 1);
        }
        /* One asleep in line, then the head (polling for a slot): one after
         * the other, so that the one behind the killed sleeper is back in
         * line before the head leaves (killed at once, the two woken race
         * for the turnstile, and the kernel promises no order between them). */
        kill(kids[3], SIGKILL);
        assert_int_equal(exit_code(kids[3]), 128 + SIGKILL);
        wait_locks(3, K - 2);
        kill(kids[0], SIGKILL);
        assert_int_equal(exit_code(kids[0]), 128 + SIGKILL);
        wait_count(fd, 2, K - 2);
        /* A holder killed: the next in line runs, one fewer waits. */
        kill(holders[0], SIGKILL);
        assert_int_equal(exit_code(holders[0]), 128 + SIGKILL);
        assert_int_equal(read(p[0], &c, 1), 1);
        assert_int_equal(c, 1);
        wait_count(fd, 2, K - 3);
        close(p[1]);
        close(p[0]);
        for (int i = 0; i < K; i++)
                if (i != 0 && i != 3) {
                        kill(kids[i], SIGKILL);
                        exit_code(kids[i]);
                }
        kill(holders[1], SIGKILL);
        exit_code(holders[1]);
        wait_count(fd, 0, 0);
        wait_locks(0, 0);
        close(fd);
}

/* After a wait, the process is as it was: dispositions, mask, timer, the
 * socket's flags. */
static void test_signal_state_restored(void **state) {
        struct admit_ticket a = ADMIT_TICKET_NULL, b = ADMIT_TICKET_NULL;
        uint64_t w;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        int fl = fcntl(sv[1], F_GETFL);
        assert_int_equal(admit_enter(path, 1, 0, 0, NULL, &a, &w), 0);
        pid_t head = waiter(0, 1, 5000, -1, -1, 0);
        wait_locks(2, 0);
        struct admit_client c = { .fd = sv[1], .since_ns = now_ms() * 1000000 };
        assert_int_equal(admit_enter(path, 1, 0, 200, &c, &b, &w), -ETIMEDOUT);
        struct sigaction sa;
        sigaction(SIGALRM, NULL, &sa);
        assert_true(sa.sa_handler == SIG_DFL);
        sigaction(SIGIO, NULL, &sa);
        assert_true(sa.sa_handler == SIG_DFL);
        struct itimerval it;
        getitimer(ITIMER_REAL, &it);
        assert_int_equal(it.it_value.tv_sec, 0);
        assert_int_equal(it.it_value.tv_usec, 0);
        assert_int_equal(it.it_interval.tv_usec, 0);
        assert_int_equal(fcntl(sv[1], F_GETFL), fl);
        /* A signal a late timer could have raised would have killed us by
         * now; make sure nothing is pending either. */
        sigset_t pending;
        sigpending(&pending);
        assert_false(sigismember(&pending, SIGALRM));
        assert_false(sigismember(&pending, SIGIO));
        admit_leave(&a);
        assert_int_equal(exit_code(head), 0);
        close(sv[0]);
        close(sv[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_slots_exclude, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fifo_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_thundering_herd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_client_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_client_data_is_not_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_closed_client_is_timed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fin_probed_then_reset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_close_in_grace_then_hang_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_leaks_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_waiting_counted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signal_state_restored, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
