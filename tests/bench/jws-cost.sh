#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What verifying the LMS's JWT costs one per-connection instance,
# per candidate library: tests/bench/jws-cost.c built four ways, each run
# as a fresh process (as systemd starts codejaild), interleaved, N rounds.
#   tests/bench/jws-cost.sh [N]        (default 300; needs cc, jansson,
#   nettle-dev, libgmp-dev, libssl-dev, libjwt-dev, python3-jwt)
# Prints medians: CPU of the whole process (fork to exit: execve, dynamic
# linking, the work), its peak RSS, the verification's own wall time, and
# the wall time of fork+exec+wait as seen from the driver.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N=${1:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$work" <<'PY'
import json, sys, time
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
d = sys.argv[1]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update(kid="bench", use="sig", alg="RS256")
open(f"{d}/jwks.json", "w").write(json.dumps({"keys": [jwk]}))
open(f"{d}/key.pem", "wb").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
now = int(time.time())
claims = {"iss": "https://lms.example.com/oauth2", "aud": "codejail", "sub": "abc", "exp": now + 3600,
          "iat": now, "preferred_username": "codejail_worker", "scopes": ["read", "write"]}
open(f"{d}/token", "w").write(jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench"}))
PY

declare -A libs=([NONE]="" [NETTLE]="-lhogweed -lnettle -lgmp" [OPENSSL]="-lcrypto" [LIBJWT]="-ljwt")
variants="NONE NETTLE OPENSSL LIBJWT"
for v in $variants; do
        # shellcheck disable=SC2086
        cc -O2 -o "$work/$v" -DVARIANT_$v "$HERE/jws-cost.c" $(pkg-config --cflags --libs jansson) ${libs[$v]} \
                -Wl,-z,relro,-z,now
        "$work/$v" "$work/jwks.json" "$work/token" "$work/key.pem" >/dev/null ||
                { echo "jws-cost: variant $v did not verify the token" >&2; exit 1; }
done

/usr/bin/python3 - "$work" "$N" $variants <<'PY'
import os, statistics, subprocess, sys, time
d, n, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {v: [] for v in variants}
for _ in range(n):
    for v in variants:
        t = time.perf_counter()
        out = subprocess.run([f"{d}/{v}", f"{d}/jwks.json", f"{d}/token", f"{d}/key.pem"],
                             capture_output=True, text=True, check=True).stdout.split()
        rows[v].append((int(out[0]), int(out[1]), int(out[2]), (time.perf_counter() - t) * 1e6))
def libs(v):
    out = subprocess.run(["ldd", f"{d}/{v}"], capture_output=True, text=True).stdout
    return len([l for l in out.splitlines() if "=>" in l])
med = lambda v, i: statistics.median(r[i] for r in rows[v])
base = variants[0]
print(f"{n} runs each, interleaved; medians")
print("| variant | shared libs | process CPU us | vs none | peak RSS KiB | vs none | verify us | fork+exec+wait us |")
print("|---|---|---|---|---|---|---|---|")
for v in variants:
    print(f"| {v.lower()} | {libs(v)} | {med(v, 0):.0f} | {med(v, 0) - med(base, 0):+.0f} | {med(v, 1):.0f} "
          f"| {med(v, 1) - med(base, 1):+.0f} | {med(v, 2):.0f} | {med(v, 3):.0f} |")
PY
