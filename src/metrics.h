/* SPDX-License-Identifier: Apache-2.0 */
/* Counters and histograms every instance of the host adds to, and their
 * exposition in Prometheus text format (codejail-service(7) "Metrics").
 *
 * One request per process: nothing in memory outlives a request, so the
 * counters live in a shared file mapping in the state dir, opened and
 * mapped before the instance drops its privileges and updated afterwards
 * with atomic adds (no system call, no open). "Running" and "waiting" are
 * not counters: they are read from the admission lock's kernel state
 * (admit_count), which no kill can skew. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* What one request came to, as its log entry says it (server.c). */
struct metrics_outcome {
        const char *status;   /* CODEJAIL_STATUS; NULL or unknown: "other" */
        int http_status;      /* 0: nothing answered */
        const char *path;     /* the request's path; NULL: no request */
        uint64_t request_us;  /* accept to log */
        bool queued;          /* reached admission control */
        uint64_t queue_ms;
        bool executed;        /* the program ran */
        uint64_t execution_ms;
        const char *limit_hit; /* CODEJAIL_LIMIT_HIT, NULL or "" for none */
        uint64_t paused_ms;   /* CODEJAIL_PAUSED_MS: 0, not paused */
        bool answer_lost;     /* an answer was due and could not be written */
};

/* Map the counters of state_dir for this process's life.
 * METRICS_INSTANCE: a serving instance (the file created, mode 0600, if
 * missing; counted as started); METRICS_READ: only to render them (an
 * existing file, read-only: whoever runs it creates nothing the service
 * could not open). Returns 0 or -errno; without a mapping, counting does
 * nothing and rendering fails. */
enum metrics_mode { METRICS_INSTANCE, METRICS_READ };
int metrics_open(const char *state_dir, enum metrics_mode mode);

/* Add one request's outcome. No system call; fine without a mapping. */
void metrics_count(const struct metrics_outcome *o);

/* The exposition (text format 0.0.4) of the mapped counters, the gauges
 * read now (the admission lock's state through lock_fd, -1: not known; the
 * health state; cfg), as a malloc'd string. Returns 0 or -errno (-ENODEV:
 * no mapping). */
int metrics_render(const struct config *cfg, int lock_fd, char **text, size_t *len);

/* Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The i-th status the counters know (0-based), NULL past the last; any
 * other is counted as "other". For tests that compare them with the
 * documented ones. */
const char *metrics_status_name(size_t i);
