/* SPDX-License-Identifier: Apache-2.0 */
/* Selfcheck probes through the real jail, the state file, sd_notify. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "conf.h"

/* Run every probe, write <state_dir>/health.json atomically, notify systemd.
 * Returns 0 when all passed, 1 when any failed, -errno on error. */
int health_selfcheck(const struct config *cfg);

/* Read the state: true when all passed and younger than health_max_age_s.
 * *state (optional) gets a new reference to the parsed file or NULL. */
bool health_ok(const struct config *cfg, json_t **state);

/* Read the state file now; health_ok() answers from this copy from then
 * on (the unprivileged side of an instance opens no file). The copy is
 * kept for the process's life: one request per instance. */
void health_preload(const struct config *cfg);
