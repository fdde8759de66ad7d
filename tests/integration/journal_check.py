#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The journal checks (codejail-service(7) "Logs") of a booted install (nspawn-test.sh,
realhost.sh): one request entry per accepted connection, every executed
entry with every field, a known CODEJAIL_STATUS vocabulary, logged by the
service user, never the submitted code.

    journal_check.py JOURNAL_JSON ACCEPTED SERVICE_UID

JOURNAL_JSON is `journalctl -t codejail -o json`; ACCEPTED the sum of the
listeners' NAccepted. Exit 1 on any finding or when nothing was executed.
"""
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
accepted = int(sys.argv[2])
service_uid = int(sys.argv[3])
requests = [e for e in entries if "HTTP_STATUS" in e]
ok = True
def bad(msg):
    global ok
    ok = False
    print("journal:", msg, file=sys.stderr)
if len(requests) != accepted:
    bad(f"{len(requests)} request entries for {accepted} accepted connections")
fields = ["CODEJAIL_STATUS", "CODEJAIL_SLUG", "CODEJAIL_LIMITS_CONTEXT", "CODEJAIL_FILES_COUNT",
          "CODEJAIL_PYTHON_PATH_LEN", "CODEJAIL_SANDBOX_UID", "CODEJAIL_EXIT_STATUS", "CODEJAIL_DURATION_MS",
          "CODEJAIL_CPU_MS", "CODEJAIL_MAXRSS_KB", "CODEJAIL_LIMIT_HIT", "CODEJAIL_CODE_SHA256", "REMOTE_ADDR"]
vocab = {"disabled.feature_switch", "disabled.safety_checks_failed", "invalid.payload.missing",
         "invalid.payload.bad_json", "invalid.payload.schema_mismatch", "invalid.python_path",
         "invalid.files", "invalid.unsafely", "executed.success", "executed.error"}
executed = [e for e in requests if e.get("CODEJAIL_STATUS", "").startswith("executed.")]
for e in executed:
    missing = [f for f in fields if f not in e]
    if missing:
        bad(f"executed entry without {missing}: {e.get('MESSAGE')}")
        break
# The service's own, beside upstream's (src/server.c's header): http.* and
# health.* name transport-level outcomes; these service-level ones.
own = {"invalid.form", "invalid.form_too_large", "disabled.config_invalid", "error.jail_setup"}
for e in requests:
    s = e.get("CODEJAIL_STATUS")
    if s is not None and not s.startswith(("http.", "health.")) and s not in vocab | own:
        bad(f"unknown CODEJAIL_STATUS {s!r}")
    if int(e.get("_UID", -1)) != service_uid:
        bad(f"entry logged by uid {e.get('_UID')}, not the codejail user ({service_uid})")
        break
    if "code" in e.get("MESSAGE", "") and "exec(" in e.get("MESSAGE", ""):
        bad("submitted code in a log message")
uids = {e["CODEJAIL_SANDBOX_UID"] for e in executed}
print(f"journal: {len(requests)} request entries, {accepted} accepted connections; "
      f"{len(executed)} executions, {len(uids)} distinct sandbox UIDs")
sys.exit(0 if ok and executed else 1)
