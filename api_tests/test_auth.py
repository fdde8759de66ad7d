# SPDX-License-Identifier: Apache-2.0
"""codejail-service(7) "Authentication": a service with jwt_* keys
requires the LMS's JWT on code-exec, and by default only the service
client's (the operator's registered client-credentials application, by its
user): a token the LMS minted for a person gets 401. The service runs with
units/README.md's configuration, which is also the fewest jwt_* keys it
accepts (lms_jwt.py keygen). Tokens are made here as the LMS makes them
(lms_jwt.py, PyJWT). Every refusal is a 401 with WWW-Authenticate and a
JSON error, answered before the body is read and before any jail exists:
its log entry (API_TEST_SERVICE_LOG, one line per request) has the
CODEJAIL_STATUS auth.*, the reason, no CODEJAIL_SANDBOX_UID and no part of
the token. Run by api_tests/run.sh http with API_TEST_JWT=1; the rest of
the suite then passes with valid tokens."""
import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import pytest
import requests

import lms_jwt
from conftest import CODE_EXEC_PATH, HTTP_TIMEOUT, check_http_headers

pytestmark = [pytest.mark.http, pytest.mark.jwt]


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def other_key_pem(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p = tmp_path / "other.pem"
    p.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return str(p)


def public_jwk():
    with open(os.path.join(os.path.dirname(os.environ["API_TEST_JWT_KEY"]), "lms-jwks.json")) as f:
        return json.load(f)["keys"][0]


def unsigned(header, claims, sig=b""):
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode()) + "." + b64(sig)


def hs256_with(secret):
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": lms_jwt.KID}).encode())
    p = b64(json.dumps(lms_jwt.claims()).encode())
    return f"{h}.{p}." + b64(hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest())


def public_pem():
    from cryptography.hazmat.primitives import serialization
    with open(os.environ["API_TEST_JWT_KEY"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def post(http_base, authorization, slug):
    headers = {} if authorization is None else {"Authorization": authorization}
    payload = {"code": "x = x + 1", "globals_dict": {"x": 1}, "slug": slug}
    return requests.post(http_base + CODE_EXEC_PATH, data={"payload": json.dumps(payload)}, headers=headers,
                         timeout=HTTP_TIMEOUT)


def log_lines():
    with open(os.environ["API_TEST_SERVICE_LOG"], errors="replace") as f:
        return [ln for ln in f if "CODEJAIL_STATUS=" in ln]


def log_entry(marker, after, timeout=10):
    """The first log entry holding marker among those written after the
    first `after` entries (instances log after answering)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [ln for ln in log_lines()[after:] if marker in ln]
        if lines:
            return lines[0]
        time.sleep(0.05)
    pytest.fail(f"no log entry for {marker} in {os.environ['API_TEST_SERVICE_LOG']}")


REFUSALS = {
    # name: (Authorization value factory, log status, reason in the log and the error)
    "missing": (lambda tp: None, "auth.missing", "no Authorization header"),
    "expired": (lambda tp: "JWT " + lms_jwt.mint(exp=int(time.time()) - 3600), "auth.invalid", "expired"),
    "not_yet_valid": (lambda tp: "JWT " + lms_jwt.mint(nbf=int(time.time()) + 3600), "auth.invalid", "not yet valid"),
    "wrong_issuer": (lambda tp: "JWT " + lms_jwt.mint(iss="https://evil.invalid/oauth2"), "auth.invalid", "issuer"),
    "wrong_audience": (lambda tp: "JWT " + lms_jwt.mint(aud="ecommerce"), "auth.invalid", "audience"),
    "wrong_user": (lambda tp: "JWT " + lms_jwt.mint(preferred_username="student"), "auth.invalid",
                   "preferred_username"),
    # Signed by the same LMS key, with the same iss and aud, as every
    # learner can read from their own browser: the login JWT cookie
    # (openedx-platform user_authn/cookies.py: the login service's
    # password-grant application, the learner's name, scopes
    # user_id/email/profile; oauth_dispatch adds the filter user:me to
    # every grant but client credentials).
    "learner_login_cookie": (lambda tp: "JWT " + lms_jwt.mint(
        grant_type="password", preferred_username="student42", scopes=["user_id", "email", "profile"],
        filters=["user:me"], email="student42@example.invalid", user_id=42, email_verified=True),
        "auth.invalid", "a person's token (grant_type password) not accepted"),
    # The same learner through a third-party application (authorization code).
    "learner_authorization_code": (lambda tp: "JWT " + lms_jwt.mint(
        grant_type="authorization-code", preferred_username="student42", filters=["user:me"]),
        "auth.invalid", "a person's token (grant_type authorization-code) not accepted"),
    # A password grant for the service account itself (someone gave it a
    # password): still a person's token.
    "service_user_password_grant": (lambda tp: "JWT " + lms_jwt.mint(grant_type="password"), "auth.invalid",
                                    "a person's token"),
    # Another client-credentials application of the same LMS (ecommerce's,
    # a learner's approved API-access application).
    "other_service_client": (lambda tp: "JWT " + lms_jwt.mint(preferred_username="ecommerce_worker"),
                             "auth.invalid", "preferred_username not accepted"),
    # An LMS before Olive did not say how a token was granted.
    "no_grant_type": (lambda tp: "JWT " + lms_jwt.mint(grant_type=None), "auth.invalid", "no grant_type claim"),
    "wrong_key": (lambda tp: "JWT " + lms_jwt.mint(other_key_pem(tp)), "auth.invalid", "bad signature"),
    "unknown_kid": (lambda tp: "JWT " + lms_jwt.mint(kid="retired-2019"), "auth.invalid", "unknown kid"),
    "alg_none": (lambda tp: "JWT " + unsigned({"alg": "none", "kid": lms_jwt.KID}, lms_jwt.claims()),
                 "auth.invalid", "alg none not accepted"),
    "hs256_public_pem": (lambda tp: "JWT " + hs256_with(public_pem()), "auth.invalid", "alg HS256 not accepted"),
    "hs256_public_jwk": (lambda tp: "JWT " + hs256_with(json.dumps(public_jwk()).encode()), "auth.invalid",
                         "alg HS256 not accepted"),
    "truncated": (lambda tp: "JWT " + lms_jwt.mint().rsplit(".", 1)[0], "auth.invalid", "malformed token"),
    "truncated_signature": (lambda tp: "JWT " + lms_jwt.mint()[:-8], "auth.invalid", ""),
    "oversized": (lambda tp: "JWT " + lms_jwt.mint(pad="x" * 9000), "auth.invalid", "longer than 8192"),
    "bearer": (lambda tp: "Bearer " + lms_jwt.mint(), "auth.invalid", "scheme is not JWT"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_support_auth_refused_before_any_jail(http_base, tmp_path, case):
    make, status, reason = REFUSALS[case]
    authorization = make(tmp_path)
    slug = f"auth-{case}-{uuid.uuid4().hex[:8]}"
    before = len(log_lines())
    r = post(http_base, authorization, slug)
    check_http_headers(r)
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"].startswith('JWT realm="codejail-service"'), r.headers
    assert ('error="invalid_token"' in r.headers["WWW-Authenticate"]) == (status == "auth.invalid")
    assert reason in r.json()["error"] or status == "auth.missing", r.text
    # The body was never read, so the log cannot know the slug: the entry
    # is the one auth.* line written since the request.
    line = log_entry(f"CODEJAIL_STATUS={status} ", before)
    assert reason in line, line
    assert "CODEJAIL_SANDBOX_UID" not in line and "CODEJAIL_SLUG" not in line, line
    assert "CODEJAIL_BODY_BYTES=0" in line, line
    if authorization:
        token = authorization.split(" ", 1)[1]
        for part in token.split("."):
            if len(part) > 8:
                assert part[:24] not in line, "the token reached the log"


def test_support_auth_valid_token_as_edx_rest_api_client_sends_it(http_base):
    # edx_rest_api_client.auth.SuppliedJwtAuth: "Authorization: JWT <token>".
    slug = f"auth-ok-{uuid.uuid4().hex[:8]}"
    before = len(log_lines())
    r = post(http_base, "JWT " + lms_jwt.mint(), slug)
    check_http_headers(r)
    assert r.status_code == 200 and r.json() == {"globals_dict": {"x": 2}}, r.text
    line = log_entry(f"CODEJAIL_SLUG={slug} ", before)
    assert f"CODEJAIL_AUTH_ISSUER={lms_jwt.ISSUER} " in line, line
    assert "CODEJAIL_AUTH_SUBJECT=4f1c0de0c0de4f1c " in line, line
    assert f"CODEJAIL_AUTH_USERNAME={lms_jwt.USERNAME}" in line, line
    assert "CODEJAIL_SANDBOX_UID=" in line, line


def test_support_auth_token_without_kid(http_base):
    # The LMS names its key (kid) only with JWT_AUTH_ADD_KID_HEADER on
    # (openedx-platform oauth_dispatch/jwt.py, off by default): the service
    # client's token must pass without one.
    slug = f"auth-nokid-{uuid.uuid4().hex[:8]}"
    r = post(http_base, "JWT " + lms_jwt.mint(kid=None), slug)
    assert r.status_code == 200 and r.json() == {"globals_dict": {"x": 2}}, r.text


def test_support_auth_health_stays_open(http_base):
    r = requests.get(http_base + "/health/", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
