#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerate tests/data/auth (tests/unit/test-auth.c): a JWK set of two
LMS keys (rotation), and one directory per case holding the Authorization
header value a client sends and the expected outcome ("ok ISS SUB USER" or
"invalid REASON-PREFIX"). Tokens are made as the LMS makes them (PyJWT,
python3-jwt; RS512 is the platform's default), at a fixed time: the test
checks them at NOW. The private keys are thrown away.

    /usr/bin/python3 tests/data/auth/make.py
"""
import base64
import hashlib
import hmac
import json
import os
import shutil

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1700000000
ISS, AUD, SUB, USER = "https://lms.example.com/oauth2", "codejail-test", "c0ffee42", "codejail_worker"


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(k, kid, alg=None):
    d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key()))
    d.update(kid=kid, use="sig")
    if alg:
        d["alg"] = alg
    return d


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": SUB, "exp": NOW + 300, "iat": NOW, "preferred_username": USER,
         "scopes": ["read", "write"], "version": "1.2.0", "grant_type": "client-credentials"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def main():
    k1, k2, other = key(), key(), key()
    keys = {"keys": [jwk(k1, "lms-2024"), jwk(k2, "lms-2025", "RS512"),
                     {"kty": "EC", "crv": "P-256", "kid": "ignored-ec", "x": "AA", "y": "AA"}]}
    for d in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, d)):
            shutil.rmtree(os.path.join(HERE, d))
    with open(os.path.join(HERE, "jwks.json"), "w") as f:
        json.dump(keys, f, indent=1)
    pem = k1.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(c, k=k1, alg="RS512", kid="lms-2024", headers=None):
        h = {"kid": kid} if kid else {}
        h.update(headers or {})
        return jwt.encode(c, k, algorithm=alg, headers=h)

    def raw(header, payload, sig=b""):
        return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode()) + "." + b64(sig)

    def hs256(secret):
        h = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "lms-2024"}).encode())
        p = b64(json.dumps(claims()).encode())
        return f"{h}.{p}." + b64(hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest())

    def sign_raw(header, payload_bytes, k=k1):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        signing_input = b64(json.dumps(header).encode()) + "." + b64(payload_bytes)
        return signing_input + "." + b64(k.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA512()))

    good = sign(claims())
    h, p, s = good.split(".")
    tampered = h + "." + b64(json.dumps(claims(sub="admin")).encode()) + "." + s
    ok = f"ok {ISS} {SUB} {USER}"
    cases = {
        "ok-rs512": ("JWT " + good, ok),
        "ok-rs256": ("JWT " + sign(claims(), alg="RS256"), ok),
        "ok-rs384": ("JWT " + sign(claims(), alg="RS384"), ok),
        "ok-second-key": ("JWT " + sign(claims(), k=k2, kid="lms-2025"), ok),
        "ok-aud-array": ("JWT " + sign(claims(aud=["other", AUD])), ok),
        "ok-scheme-case": ("jwt " + good, ok),
        "ok-expired-within-skew": ("JWT " + sign(claims(exp=NOW - 30)), ok),
        # valid at any time this century: tests/unit/test-server.c checks it at the real time
        "ok-long-lived": ("JWT " + sign(claims(exp=4102444800)), ok),
        "ok-float-times": ("JWT " + sign(claims(exp=NOW + 0.5, iat=NOW - 0.5)), ok),
        "bearer-scheme": ("Bearer " + good, "invalid Authorization scheme is not JWT"),
        "no-scheme": (good, "invalid Authorization scheme is not JWT"),
        "expired": ("JWT " + sign(claims(exp=NOW - 61)), "invalid expired"),
        "no-exp": ("JWT " + sign(claims(exp=None)), "invalid no numeric exp"),
        "not-yet-valid": ("JWT " + sign(claims(nbf=NOW + 120)), "invalid not yet valid"),
        "iat-future": ("JWT " + sign(claims(iat=NOW + 120)), "invalid issued in the future"),
        "wrong-issuer": ("JWT " + sign(claims(iss="https://evil.example.com/oauth2")), "invalid issuer"),
        "wrong-audience": ("JWT " + sign(claims(aud="some-other-service")), "invalid audience"),
        "no-audience": ("JWT " + sign(claims(aud=None)), "invalid audience"),
        "missing-username": ("JWT " + sign(claims(preferred_username=None)), "invalid preferred_username not accepted"),
        "wrong-username": ("JWT " + sign(claims(preferred_username="student")), "invalid preferred_username not accepted"),
        # Who the token was minted for (openedx-platform oauth_dispatch/jwt.py:
        # grant_type is the OAuth application's grant type, since Olive). A
        # learner's login cookie: the login service's password grant, the
        # learner's own name, user_id/email/profile scopes, filter user:me.
        "person-login-cookie": ("JWT " + sign(claims(grant_type="password", preferred_username="student42",
                                                     scopes=["user_id", "email", "profile"], filters=["user:me"],
                                                     email="student42@example.com", user_id=42)),
                                "invalid a person's token (grant_type password) not accepted"),
        # A person's token carrying the service user's name (a password set
        # on the service account): still a person's grant.
        "person-service-user": ("JWT " + sign(claims(grant_type="password")), "invalid a person's token"),
        "person-authorization-code": ("JWT " + sign(claims(grant_type="authorization-code", preferred_username="student42",
                                                           filters=["user:me"])),
                                      "invalid a person's token (grant_type authorization-code)"),
        # Another service's client-credentials token (ecommerce's, a
        # learner's approved API-access application): not this service's user.
        "other-service-client": ("JWT " + sign(claims(preferred_username="ecommerce_worker")),
                                 "invalid preferred_username not accepted"),
        # Before Olive the LMS did not say; JWTs made without an OAuth
        # application (create_jwt_for_user) say "".
        "no-grant-type": ("JWT " + sign(claims(grant_type=None)), "invalid no grant_type claim"),
        "empty-grant-type": ("JWT " + sign(claims(grant_type="")), "invalid grant_type  not accepted"),
        "grant-type-spelled-as-requested": ("JWT " + sign(claims(grant_type="client_credentials")),
                                            "invalid grant_type client_credentials not accepted"),
        # jansson refuses a NUL in the claims: never a prefix match.
        "username-nul": ("JWT " + sign(claims(preferred_username="codejail_worker\u0000x")),
                         "invalid malformed token: claims"),

        "wrong-key": ("JWT " + sign(claims(), k=other), "invalid bad signature"),
        "unknown-kid": ("JWT " + sign(claims(), kid="lms-1999"), "invalid unknown kid"),
        # The LMS names its key only with JWT_AUTH_ADD_KID_HEADER on (off by
        # default): each key that may sign with the alg is tried.
        "ok-no-kid": ("JWT " + sign(claims(), kid=None), ok),
        "ok-no-kid-second-key": ("JWT " + sign(claims(), k=k2, kid=None), ok),
        "no-kid-wrong-key": ("JWT " + sign(claims(), k=other, kid=None), "invalid bad signature"),
        # the second key is RS512 only: an RS256 token of it matches no key
        "no-kid-key-alg-mismatch": ("JWT " + sign(claims(), k=k2, kid=None, alg="RS256"), "invalid bad signature"),
        "no-kid-tampered": ("JWT " + sign(claims(), kid=None).split(".")[0] + "." + tampered.split(".")[1] + "."
                            + sign(claims(), kid=None).split(".")[2], "invalid bad signature"),
        "kid-not-string": ("JWT " + sign_raw({"alg": "RS512", "kid": 7}, json.dumps(claims()).encode()),
                           "invalid kid is not a string"),
        "ec-kid": ("JWT " + sign(claims(), kid="ignored-ec"), "invalid unknown kid"),
        "key-alg-mismatch": ("JWT " + sign(claims(), k=k2, kid="lms-2025", alg="RS256"), "invalid alg does not match"),
        "alg-none": ("JWT " + raw({"alg": "none", "kid": "lms-2024"}, claims()), "invalid alg none not accepted"),
        "alg-none-sig": ("JWT " + raw({"alg": "none", "kid": "lms-2024"}, claims(), b"x"), "invalid alg none"),
        "alg-missing": ("JWT " + raw({"kid": "lms-2024"}, claims(), b"x"), "invalid alg (none) not accepted"),
        "hs256-public-pem": ("JWT " + hs256(pem), "invalid alg HS256 not accepted"),
        "hs256-public-jwk": ("JWT " + hs256(json.dumps(keys["keys"][0]).encode()), "invalid alg HS256"),
        "ps256": ("JWT " + sign(claims(), alg="PS256"), "invalid alg PS256 not accepted"),
        "crit": ("JWT " + sign(claims(), headers={"crit": ["exp"]}), "invalid crit"),
        "tampered-claims": ("JWT " + tampered, "invalid bad signature"),
        "truncated-signature": ("JWT " + good[:-12], "invalid"),  # bad signature or not base64url, by the bytes cut
        "truncated-two-parts": ("JWT " + h + "." + p, "invalid malformed token"),
        "truncated-header": ("JWT " + h[:-3] + "." + p + "." + s, "invalid malformed token"),
        "four-parts": ("JWT " + good + ".x", "invalid malformed token"),
        "padded": ("JWT " + h + "." + p + "." + s + "==", "invalid malformed token"),
        "empty-token": ("JWT ", "invalid malformed token"),
        "oversized": ("JWT " + sign(claims(pad="x" * 9000)), "invalid token longer than"),
        "duplicate-exp-tampered": ("JWT " + h + "." + b64(json.dumps(claims()).replace('"exp"', '"exp": 1, "exp"', 1).encode()) + "." + s,
                                   "invalid bad signature"),
        "duplicate-exp-signed": ("JWT " + sign_raw({"alg": "RS512", "kid": "lms-2024"},
                                                   json.dumps(claims()).replace('"exp"', '"exp": 1, "exp"', 1).encode()),
                                 "invalid malformed token: claims"),
        "claims-not-object": ("JWT " + sign_raw({"alg": "RS512", "kid": "lms-2024"}, b"[1]"), "invalid malformed token: claims"),
        "header-not-json": ("JWT " + b64(b"{alg") + "." + p + "." + s, "invalid malformed token"),
    }
    for name, (value, expected) in cases.items():
        os.mkdir(os.path.join(HERE, name))
        with open(os.path.join(HERE, name, "authorization"), "w") as f:
            f.write(value)
        with open(os.path.join(HERE, name, "expected"), "w") as f:
            f.write(expected + "\n")


if __name__ == "__main__":
    main()
