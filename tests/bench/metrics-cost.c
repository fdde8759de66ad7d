/* SPDX-License-Identifier: Apache-2.0 */
/* What the metrics cost one instance (src/metrics.c), timed in a fresh
 * process as systemd starts one per connection: mapping the counters
 * (open, fstat, mmap of <state_dir>/metrics.*), counting one request's
 * outcome (the atomic additions and the page faults of a fresh mapping),
 * and, apart, rendering the exposition for a scrape.
 * argv: STATE_DIR. Prints "open_ns count_ns render_ns" (render_ns with a
 * config whose health.json is missing: the counters and the lock's state). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "metrics.h"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
        if (argc != 2)
                return 2;
        const struct metrics_outcome o = {
                .status = "executed.success", .http_status = 200, .path = "/api/v0/code-exec",
                .request_us = 25000, .queued = true, .queue_ms = 0, .executed = true, .execution_ms = 18,
        };
        /* An instance has formatted and read the clock many times before
         * server_prepare(): their first-use cost (page faults, lazy
         * binding: ~10 us for snprintf) is not the metrics'. */
        char warm[64];
        snprintf(warm, sizeof warm, "%s/%08x", argv[1], (unsigned)now_ns());
        uint64_t t0 = now_ns();
        if (metrics_open(argv[1], METRICS_INSTANCE) < 0)
                return 1;
        uint64_t t1 = now_ns();
        metrics_count(&o);
        uint64_t t2 = now_ns();

        struct config *cfg = NULL;
        char lock[300], *text = NULL;
        size_t len;
        if (config_new_default(&cfg) < 0)
                return 1;
        free(cfg->state_dir);
        cfg->state_dir = strdup(argv[1]);
        snprintf(lock, sizeof lock, "%s/admission.lock", argv[1]);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        uint64_t t3 = now_ns();
        if (metrics_render(cfg, fd, &text, &len) < 0)
                return 1;
        uint64_t t4 = now_ns();
        printf("%llu %llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
               (unsigned long long)(t4 - t3));
        return 0;
}
