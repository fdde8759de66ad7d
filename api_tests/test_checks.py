# SPDX-License-Identifier: Apache-2.0
"""codejail-service(7) "API": the request checks of POST /api/v0/code-exec, in order, with exact
statuses and messages."""

import io
import json
import zipfile

import pytest
import requests

from conftest import CODE_EXEC_PATH, HTTP_TIMEOUT, auth_headers, check_http_headers

GOOD = {"code": "x = 1", "globals_dict": {}}


def expect_error(r, status, message):
    assert r.status_code == status, r
    assert r.json() == {"error": message}, r


def schema_error(path, reason):
    return f"Payload JSON did not match schema at path {path}: {reason}"


def a_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("cjmod.py", "V = 1\n")
    return buf.getvalue()


# ---- check 1 / 2: need a service configured that way -----------------------


@pytest.mark.disabled_service
def test_support_check1_disabled(disabled_client):
    expect_error(disabled_client.exec(GOOD), 500, "Codejail service not enabled")


@pytest.mark.disabled_service
def test_support_check1_disabled_comes_before_payload_checks(disabled_client):
    expect_error(disabled_client.exec("not json at all"), 500, "Codejail service not enabled")
    expect_error(disabled_client.exec({"code": "x", "globals_dict": {}, "unsafely": True}), 500,
                 "Codejail service not enabled")


@pytest.mark.unhealthy_service
def test_support_check2_unhealthy(unhealthy_client):
    expect_error(unhealthy_client.exec(GOOD), 500, "Codejail service is not correctly configured")


@pytest.mark.unhealthy_service
def test_support_check2_unhealthy_comes_before_payload_checks(unhealthy_client):
    expect_error(unhealthy_client.exec("{"), 500, "Codejail service is not correctly configured")


# ---- check 3: no payload field (only expressible over HTTP) -----------------


@pytest.mark.http
def test_support_check3_missing_payload_urlencoded(http_base):
    r = requests.post(http_base + CODE_EXEC_PATH, data={"other": "x"}, headers=auth_headers(), timeout=HTTP_TIMEOUT)
    check_http_headers(r)
    expect_error(r, 400, "Missing 'payload' parameter in POST body")


@pytest.mark.http
def test_support_check3_missing_payload_multipart(http_base):
    r = requests.post(http_base + CODE_EXEC_PATH, files={"other": (None, "x")}, headers=auth_headers(),
                      timeout=HTTP_TIMEOUT)
    check_http_headers(r)
    expect_error(r, 400, "Missing 'payload' parameter in POST body")


@pytest.mark.http
def test_support_check3_payload_as_file_is_not_a_field(http_base):
    # A part with a filename is an uploaded file, not the form field.
    r = requests.post(http_base + CODE_EXEC_PATH, files={"payload": ("payload", json.dumps(GOOD))},
                      headers=auth_headers(), timeout=HTTP_TIMEOUT)
    check_http_headers(r)
    expect_error(r, 400, "Missing 'payload' parameter in POST body")  # check 3 precedes check 7


# ---- check 4: not JSON -------------------------------------------------------


@pytest.mark.parametrize("text", ["not json", "{", "", '{"code": "x", "globals_dict": {}} trailing', "[1,"])
def test_support_check4_bad_json(client, text):
    r = client.exec(text)
    assert r.status_code == 400, r
    body = r.json()
    assert list(body) == ["error"], body
    assert body["error"].startswith("Unable to parse payload JSON: "), body
    assert len(body["error"]) > len("Unable to parse payload JSON: "), "parser detail missing"


# ---- check 5: schema ---------------------------------------------------------


@pytest.mark.parametrize(
    "payload, path, reason",
    [
        ({"globals_dict": {}}, "$", "'code' is a required property"),
        ({"code": "x = 1"}, "$", "'globals_dict' is a required property"),
        ({"code": 5, "globals_dict": {}}, "$.code", "5 is not of type 'string'"),
        ({"code": "x", "globals_dict": []}, "$.globals_dict", "[] is not of type 'object'"),
        ({"code": "x", "globals_dict": {}, "python_path": ["python_lib.zip", 5]}, "$.python_path[1]",
         "5 is not of type 'string'"),
        ({"code": "x", "globals_dict": {}, "unsafely": "yes"}, "$.unsafely", "'yes' is not of type 'boolean'"),
        ([1], "$", "[1] is not of type 'object'"),
    ],
    ids=["missing-code", "missing-globals", "code-int", "globals-list", "python_path-item", "unsafely-str",
         "top-array"],
)
def test_support_check5_schema(client, payload, path, reason):
    expect_error(client.exec(payload), 400, schema_error(path, reason))


@pytest.mark.parametrize("extra", [
    {"python_path": None}, {"slug": None}, {"limit_overrides_context": None},
    {"slug": "some-slug", "limit_overrides_context": "no-such-context", "unsafely": False, "python_path": []},
], ids=["python_path-null", "slug-null", "context-null", "all-optional"])
def test_support_check5_optional_fields_accepted(client, extra):
    payload = dict(GOOD, **extra)
    r = client.exec(payload)
    assert r.status_code == 200, r
    assert r.json() == {"globals_dict": {"x": 1}}, r


def test_support_check5_schema_before_python_path(client):
    # python_path [5] is a schema error (check 5), not check 6
    r = client.exec({"code": "x", "globals_dict": {}, "python_path": [5]})
    expect_error(r, 400, schema_error("$.python_path[0]", "5 is not of type 'string'"))


# ---- check 6: python_path ------------------------------------------------------


@pytest.mark.parametrize("pp", [["other.zip"], ["python_lib.zip", "/usr/lib/python3/dist-packages"], ["."]])
def test_support_check6_python_path(client, pp):
    expect_error(client.exec({"code": "x = 1", "globals_dict": {}, "python_path": pp}), 400,
                 "Only allowed entry in 'python_path' is 'python_lib.zip'")


def test_support_check6_python_path_too_long(client):
    # More entries than the wrapper has lines for: refused before any jail
    # exists (upstream writes one line per entry, without a bound).
    r = client.exec({"code": "x = 1", "globals_dict": {}, "python_path": ["python_lib.zip"] * 1025})
    expect_error(r, 400, "Too many entries in 'python_path': at most 1024")


def test_support_check6_python_path_at_the_limit(client):
    # 1024 entries run; the exec line moves to 19 + 1024, as upstream's.
    r = client.exec({"code": "1/0", "globals_dict": {}, "python_path": ["python_lib.zip"] * 1024})
    assert r.status_code == 200, r
    assert 'jailed_code", line 1043, in <module>' in r.json()["emsg"], r.json()


def test_support_check6_before_check8(client):
    r = client.exec({"code": "x", "globals_dict": {}, "python_path": ["evil"], "unsafely": True})
    expect_error(r, 400, "Only allowed entry in 'python_path' is 'python_lib.zip'")


# ---- check 7: uploaded file name ------------------------------------------------


def test_support_check7_file_name(client):
    expect_error(client.exec(GOOD, files={"other.zip": a_zip()}), 400,
                 "Only allowed name for uploaded file is 'python_lib.zip'")


def test_support_check7_before_check8(client):
    r = client.exec(dict(GOOD, unsafely=True), files={"jailed_code": b"print(1)"})
    expect_error(r, 400, "Only allowed name for uploaded file is 'python_lib.zip'")


# ---- check 8: unsafely -----------------------------------------------------------


def test_support_check8_unsafely(client):
    expect_error(client.exec(dict(GOOD, unsafely=True)), 400, "Refusing codejail execution with unsafely=true")


def test_support_check8_unsafely_false_runs(client):
    r = client.exec(dict(GOOD, unsafely=False))
    assert r.status_code == 200, r
    assert r.json() == {"globals_dict": {"x": 1}}
