# SPDX-License-Identifier: Apache-2.0
"""Tokens as the LMS makes them, for a service with jwt_* keys.

The LMS signs its JWTs with its private JWK (RS512 in the platform's
defaults) and publishes the public half at /oauth2/jwks.json; its client
(edx-rest-api-client) sends ``Authorization: JWT <token>``. Here the
"LMS" is a key this module makes:

    /usr/bin/python3 lms_jwt.py keygen DIR     # DIR/lms-key.pem, DIR/lms-jwks.json

and API_TEST_JWT_KEY=DIR/lms-key.pem makes every client of the suite send
a fresh token (conftest.auth_headers). PyJWT is Debian's python3-jwt.
"""
import json
import os
import sys
import time

ISSUER = "https://lms.api-tests.invalid/oauth2"
AUDIENCE = "codejail-api-tests"
USERNAME = "codejail_worker"
KID = "api-tests-1"


def _jwt():
    import jwt  # python3-jwt; imported late so a run without auth needs nothing new
    return jwt


def claims(**over):
    """The claims of a client-credentials token of the LMS, overridable
    (None removes one)."""
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": "4f1c0de0c0de4f1c", "exp": now + 3600, "iat": now,
         "preferred_username": USERNAME, "scopes": ["read", "write"], "version": "1.2.0",
         "grant_type": "client-credentials", "filters": [], "is_restricted": False}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def mint(key_path=None, alg="RS512", kid=KID, headers=None, **over):
    from cryptography.hazmat.primitives import serialization
    with open(key_path or os.environ["API_TEST_JWT_KEY"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    h = dict(headers or {})
    if kid is not None:
        h["kid"] = kid
    return _jwt().encode(claims(**over), key, algorithm=alg, headers=h)


def keygen(d):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(d, "lms-key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    jwk = json.loads(_jwt().algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, use="sig", alg="RS512")
    with open(os.path.join(d, "lms-jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)
    # jwt_* keys for the service's config, as one JSON object's members:
    # units/README.md's, which are also the fewest the service accepts
    print(json.dumps({"jwt_jwks_file": os.path.join(d, "lms-jwks.json"), "jwt_issuers": [ISSUER],
                      "jwt_audiences": [AUDIENCE], "jwt_usernames": [USERNAME]})[1:-1])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "keygen":
        keygen(sys.argv[2])
    else:
        sys.exit("usage: lms_jwt.py keygen DIR")
