#!/usr/bin/env python3
"""Record signing test vectors from the official Huawei Cloud Python SDK (used as a test oracle).

Run with the oracle venv's python (see setup_venv.sh), from anywhere:

    <venv>/bin/python tests/oracle/record_vectors.py

Writes, relative to the repository root:

  tests/vectors/sdk-hmac-sha256/<case>.json
      One file per case: the SDK's ``Signer`` (SDK-HMAC-SHA256) driven directly on an
      ``SdkRequest``; records the canonical request, string to sign, signed headers, signature,
      Authorization, the headers after signing and the request URI. Fully deterministic:
      rewritten on every run, byte-identical each time. Stale *.json files are removed.

  tests/vectors/hss-client/<case>.json
      ``HssClient.run_image_synchronize`` as sent over the wire to a local capture server.
      The capture server listens on the fixed port CLIENT_CASE_PORT (outside Linux's ephemeral
      range), so the Rust test can serve on the same port and sign the same Host.

  tests/vectors/hss-client/operations/<case>.json
      The same for other operations of HssClient (several query parameters, header values to
      trim), on the fixed port CLIENT_OPERATION_PORT.

      The SDK signer's clock is fixed to TIME for each client call, so these files too are
      byte-identical on every run: rewritten each time, stale ones removed (the old flag
      --refresh-client-cases is accepted and changes nothing).

Every recorded case is also checked against verify_server.verify() (the local verifying server's
logic) so the vectors and the server agree.
"""

import argparse
import base64
import copy
import datetime as _dt
import hashlib
import json
import os
import secrets
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(REPO_ROOT, "tests", "vectors")
SDK_DIR = os.path.join(VECTORS, "sdk-hmac-sha256")
CLIENT_DIR = os.path.join(VECTORS, "hss-client")

sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # importing verify_server must not leave __pycache__ in the repo
# Requests to the local capture server must never go through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import huaweicloudsdkcore.signer.signer as signer_module  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: E402
from huaweicloudsdkcore.signer.signer import Signer  # noqa: E402

import verify_server  # noqa: E402

DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# ---------------------------------------------------------------------------------------------
# Shared fixture values
# ---------------------------------------------------------------------------------------------

AK = "HPUAL8FWGBJPNSCL4E2X"
SK = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo"
PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HOST = "hss.cn-north-4.myhuaweicloud.com"
TIME = "20240315T081530Z"
USER_AGENT_SUFFIX = "rust-vector-test"  # HttpConfig.user_agent
USER_AGENT = "huaweicloud-usdk-python/3.0; " + USER_AGENT_SUFFIX
SEED_PATH = "/v5/%s/image/synchronize" % PROJECT_ID
BODY_PRIVATE = '{"image_type": "private_image"}'
BODY_SHARED = '{"image_type": "shared_image"}'
JSON = "application/json"

# A long, deterministic, base64-looking temporary-credential token (contains "+", "/" and "=").
LONG_TOKEN = base64.b64encode(
    b"".join(hashlib.sha256(b"security-token-%d" % i).digest() for i in range(40)) + b"\x01"
).decode("ascii")
# A 200-character SK: longer than the HMAC-SHA256 block size (64 bytes), so HMAC hashes the key.
LONG_SK = "".join(hashlib.sha256(b"long-sk-%d" % i).hexdigest() for i in range(4))[:200]
UNUSUAL_AK = "AK-0+/=_~.x"
UNUSUAL_SK = "sk with spaces/+=%&?#é中文🔑"


def seed_headers(region="cn-north-4", date=TIME, content_type=JSON, project_id=PROJECT_ID, token=None,
                 user_agent=USER_AGENT, extra=()):
    """Headers in the order HssClient puts them before the signer runs (region, Content-Type,
    User-Agent, X-Project-Id, X-Security-Token), then ``extra``, then X-Sdk-Date when given."""
    h = []
    if region is not None:
        h.append(["region", region])
    if content_type is not None:
        h.append(["Content-Type", content_type])
    if user_agent is not None:
        h.append(["User-Agent", user_agent])
    if project_id is not None:
        h.append(["X-Project-Id", project_id])
    if token is not None:
        h.append(["X-Security-Token", token])
    h.extend([list(x) for x in extra])
    if date is not None:
        h.append(["X-Sdk-Date", date])
    return h


def minimal_headers(extra=(), content_type=JSON, date=TIME):
    h = []
    if content_type is not None:
        h.append(["Content-Type", content_type])
    h.extend([list(x) for x in extra])
    if date is not None:
        h.append(["X-Sdk-Date", date])
    return h


EPID0 = [["enterprise_project_id", "0"]]


def case(name, description, quirks, method="POST", host=HOST, path=SEED_PATH, query=EPID0, headers=None,
         body=BODY_PRIVATE, ak=AK, sk=SK, time=TIME):
    return {
        "name": name,
        "description": description,
        "quirks": sorted(quirks),
        "credentials": {"ak": ak, "sk": sk},
        "time": time,
        "request": {
            "method": method,
            "host": host,
            "path": path,
            "query": [list(q) for q in query],
            "headers": seed_headers() if headers is None else headers,
            "body": body,
        },
    }


def epid_case(name, value, what):
    return case("epid-" + name,
                "Seed POST whose enterprise_project_id is %s, percent-encoded in the canonical query." % what,
                [1, 2, 3, 5, 16], query=[["enterprise_project_id", value]])


SDK_CASES = [
    # --- the seed request ---------------------------------------------------------------------
    case("seed-private-epid-0",
         "Seed POST exactly as HssClient builds it: private_image, enterprise_project_id=0, region header.",
         [1, 2, 3, 5, 16]),
    case("seed-shared-epid-0",
         "Seed POST with shared_image; this is the example canonical request of SIGNING.md section 2.",
         [1, 2, 3, 5, 16], body=BODY_SHARED),
    case("seed-private-no-epid",
         "Seed POST without enterprise_project_id: empty canonical query line and URI without '?'.",
         [1, 2, 5, 16], query=[]),
    case("seed-private-all-granted-eps",
         "Seed POST with enterprise_project_id=all_granted_eps (underscores are unreserved).",
         [1, 2, 3, 5, 16], query=[["enterprise_project_id", "all_granted_eps"]]),
    case("seed-private-no-region",
         "Seed POST without the optional region header, so region is not signed.",
         [1, 2, 3, 5, 16], headers=seed_headers(region=None)),
    case("seed-private-clock-time",
         "Seed POST with no X-Sdk-Date header: the signer adds X-Sdk-Date from the clock (the case time).",
         [1, 2, 3, 5, 16], headers=seed_headers(date=None)),
    case("seed-private-security-token",
         "Seed POST with a long X-Security-Token (temporary AK/SK), which is signed like any header.",
         [1, 2, 3, 5, 16], headers=seed_headers(token=LONG_TOKEN)),
    case("seed-private-security-token-clock-time",
         "Seed POST with X-Security-Token and no X-Sdk-Date: the signer adds the date from the clock.",
         [1, 2, 3, 5, 16], headers=seed_headers(token=LONG_TOKEN, date=None)),
    case("seed-private-default-user-agent",
         "Seed POST with a default-style SDK User-Agent (os/python/app metadata), which is signed.",
         [1, 2, 3, 5, 16],
         headers=seed_headers(user_agent="huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 "
                                         "python/3.11.7 impl/CPython; app/75ae87b4-0000-4000-8000-000000000000")),

    # --- enterprise_project_id values needing percent-encoding (quirk 3) -----------------------
    epid_case("space", "ep 1", "'ep 1' (space becomes %20, never +)"),
    epid_case("plus", "a+b", "'a+b' (+ becomes %2B)"),
    epid_case("slash", "a/b", "'a/b' (/ becomes %2F)"),
    epid_case("equals-ampersand", "a=b&c=d", "'a=b&c=d' (= and & are encoded)"),
    epid_case("percent", "100%", "'100%' (% becomes %25)"),
    epid_case("star-tilde", "a*b~c", "'a*b~c' (* becomes %2A, ~ stays)"),
    epid_case("e-acute", "é", "'é' (UTF-8 %C3%A9)"),
    epid_case("cjk", "企业项目", "CJK text (3-byte UTF-8 sequences)"),
    epid_case("emoji", "🚀", "an emoji (4-byte UTF-8 sequence)"),
    epid_case("mixed", "ep id/1+é", "'ep id/1+é' (space, slash, plus and non-ASCII together)"),
    epid_case("empty", "", "the empty string, written 'enterprise_project_id='"),

    # --- query sorting (quirk 4) --------------------------------------------------------------
    case("query-sort-raw-not-encoded",
         "Keys 'aé' and 'a~' sort by raw code point (a~ first) although %C3%A9 < ~ once encoded.",
         [1, 2, 3, 4, 5], method="GET", query=[["aé", "1"], ["a~", "2"]],
         headers=minimal_headers(), body=""),
    case("query-sort-slash-vs-dot",
         "Keys 'a.b' and 'a/b' sort raw (a.b first); encoded, a%2Fb would sort first.",
         [1, 2, 3, 4, 5], method="GET", query=[["a/b", "1"], ["a.b", "2"]],
         headers=minimal_headers(), body=""),
    case("query-sort-uppercase-first",
         "Uppercase keys sort before lowercase ones (B < a).",
         [1, 2, 3, 4, 5], method="GET", query=[["b", "1"], ["a", "2"], ["B", "3"], ["A", "4"]],
         headers=minimal_headers(), body=""),
    case("query-repeated-keys",
         "Repeated keys sort by raw value as text: a=1&a=10&a=3&b=2.",
         [1, 2, 3, 4, 5], method="GET", query=[["b", "2"], ["a", "3"], ["a", "1"], ["a", "10"]],
         headers=minimal_headers(), body=""),
    case("query-repeated-key-raw-values",
         "Values of one key sort raw (% < ~ < é) although encoded they would be %25, %C3%A9, ~.",
         [1, 2, 3, 4, 5], method="GET", query=[["k", "é"], ["k", "~"], ["k", "%"]],
         headers=minimal_headers(), body=""),
    case("query-empty-values",
         "Empty values are written as 'k=' and still sorted.",
         [1, 2, 3, 4, 5], method="GET", query=[["k", ""], ["a", "1"], ["empty", ""]],
         headers=minimal_headers(), body=""),
    case("query-keys-need-encoding",
         "Keys with space, brackets and non-ASCII are encoded like values.",
         [1, 2, 3, 4, 5], method="GET",
         query=[["page size", "10"], ["filter[name]", "x y"], ["名前", "値"]],
         headers=minimal_headers(), body=""),

    # --- paths (quirks 1, 13) ------------------------------------------------------------------
    case("path-trailing-slash",
         "A path that already ends in '/' gets no second slash in the canonical URI.",
         [1, 2, 3, 5, 16], path=SEED_PATH + "/"),
    case("path-root",
         "Path '/' is signed as '/'.",
         [1, 2, 5], method="GET", path="/", query=[], headers=minimal_headers(), body=""),
    case("path-encoded-slash",
         "%2F in a path segment is decoded and becomes a separator in the canonical URI; sent unchanged.",
         [1, 2, 3, 5, 13, 16], path="/v5/a%2Fb/image/synchronize"),
    case("path-encoded-slash-project-id",
         "A project id sent as quote(id, safe='') with %2f/%2F inside: each becomes a separator when signing.",
         [1, 2, 3, 5, 13, 16], path="/v5/proj%20id%2f%C3%A9%2F1/image/synchronize"),
    case("path-raw-reserved",
         "Raw ':', '@' and '+' in the path are sent raw but signed as %3A, %40, %2B.",
         [1, 2, 3, 5, 16], path="/v5/p:r@o+j/image/synchronize"),
    case("path-noncanonical-escapes",
         "Lowercase and needless escapes (%7e, %41) are normalised in the canonical URI (~, A).",
         [1, 2, 3, 5, 16], path="/v5/%7euser%41/image/synchronize"),
    case("path-non-ascii-project-id",
         "A non-ASCII project id percent-encoded in the path is decoded and re-encoded (uppercase hex).",
         [1, 2, 3, 5, 16], path="/v5/%e9%a1%b9%e7%9b%ae/image/synchronize"),
    case("path-encoded-space",
         "A project id with an encoded space (%20) and an encoded '+' (%2B) in the path.",
         [1, 2, 3, 5, 16], path="/v5/my%20project%2B1/image/synchronize"),
    case("path-double-slash",
         "An empty path segment ('//') is kept in the canonical URI.",
         [1, 2, 3, 5, 16], path="/v5//image/synchronize"),

    # --- host (quirk 6) ------------------------------------------------------------------------
    case("host-port-443",
         "Endpoint netloc with the default port :443: the Host header and the signature keep it.",
         [1, 2, 3, 5, 6, 16], host=HOST + ":443"),
    case("host-port-8080",
         "Local endpoint 127.0.0.1:8080: Host includes the port.",
         [1, 2, 3, 5, 6, 16], host="127.0.0.1:8080"),
    case("host-explicit-header",
         "A caller-supplied Host header is kept and signed instead of the request host.",
         [1, 2, 3, 5, 6, 16], headers=seed_headers(extra=[["Host", "api.example.com:8443"]])),
    case("host-explicit-lowercase-header",
         "A caller-supplied lowercase 'host' header is found case-insensitively and kept.",
         [1, 2, 3, 5, 6, 16], host=HOST + ":443", headers=seed_headers(extra=[["host", HOST]])),

    # --- headers (quirk 5) ---------------------------------------------------------------------
    case("header-value-whitespace",
         "Header values are trimmed at both ends (spaces, tabs); inner runs of spaces/tabs and case are kept.",
         [1, 2, 3, 5, 16],
         headers=seed_headers(extra=[["X-Custom", "  \tHello   World\t\tX  "], ["X-Trail", "value \t "]])),
    case("header-value-unicode-whitespace",
         "Python str.strip() also trims Unicode whitespace (U+3000, U+00A0, U+2003) and U+001C..U+001F.",
         [1, 2, 3, 5, 16],
         headers=seed_headers(extra=[["X-Unicode-Space", "\u3000\u00a0a\u00a0b\u2003"],
                                     ["X-Separators", "\x1c\x1fsep\x1e\x1d"]])),
    case("header-name-underscore",
         "Headers whose name contains '_' are sent (trimmed) but not signed.",
         [1, 2, 3, 5, 16],
         headers=seed_headers(extra=[["X_Custom_Header", "  not signed  "], ["x-dash-ok", "signed"]])),
    case("header-empty-value",
         "An empty header value is signed as 'x-empty:'.",
         [1, 2, 3, 5, 16], headers=seed_headers(extra=[["X-Empty", ""]])),
    case("header-whitespace-only-value",
         "A value of only whitespace is trimmed to empty and signed as 'x-blank:'.",
         [1, 2, 3, 5, 16], headers=seed_headers(extra=[["X-Blank", " \t "]])),
    case("header-region-non-ascii",
         "Non-ASCII region header value: signed as UTF-8 text, stored by the SDK as UTF-8 bytes.",
         [1, 2, 3, 5, 16], headers=seed_headers(region="中国")),
    case("header-name-case-and-order",
         "Mixed-case header names are lowercased and sorted in SignedHeaders; value case is kept.",
         [1, 2, 3, 5, 16],
         headers=seed_headers(extra=[["X-CUSTOM-Header", "MiXeD"], ["accept", "application/json"],
                                     ["Zz-Last", "z"], ["A-First", "a"]])),
    case("header-minimal",
         "Only Content-Type and X-Sdk-Date are given: SignedHeaders is content-type;host;x-sdk-date.",
         [1, 2, 3, 5, 16], headers=minimal_headers()),
    case("header-none-clock-time",
         "No headers at all and no body: the signer adds X-Sdk-Date from the clock and Host.",
         [1, 2, 5], method="GET", query=[], headers=[], body=""),
    case("x-sdk-date-lowercase",
         "The date is given as lowercase 'x-sdk-date'; it is found case-insensitively, no second one is added.",
         [1, 2, 3, 5, 16], headers=seed_headers(date=None, extra=[["x-sdk-date", "20240315T081530Z"]])),
    case("x-sdk-date-uppercase-overrides-clock",
         "'X-SDK-DATE' (uppercase) with a date differing from the clock: the header's date is signed.",
         [1, 2, 3, 5, 16], headers=seed_headers(date=None, extra=[["X-SDK-DATE", "20251231T235959Z"]])),

    # --- payload hash (quirks 7, 8, 9) -----------------------------------------------------------
    case("content-type-text-plain",
         "Exact key Content-Type text/plain: the signer adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.",
         [1, 2, 3, 5, 8], headers=seed_headers(content_type="text/plain"), body="hello, world"),
    case("content-type-lowercase-key-text-plain",
         "Lowercase key 'content-type: text/plain' is not seen by the UNSIGNED-PAYLOAD rule: the body is hashed.",
         [1, 2, 3, 5, 8], headers=seed_headers(content_type=None, extra=[["content-type", "text/plain"]]),
         body="hello, world"),
    case("content-type-json-charset",
         "application/json;charset=UTF-8 starts with application/json: the body is hashed.",
         [1, 2, 3, 5, 8, 16], headers=seed_headers(content_type="application/json;charset=UTF-8")),
    case("content-type-bson",
         "application/bson counts like JSON: the body is hashed, no UNSIGNED-PAYLOAD.",
         [1, 2, 3, 5, 8], headers=seed_headers(content_type="application/bson"), body="bson-ish text body"),
    case("content-type-json-uppercase",
         "The prefix check is case-sensitive: 'Application/JSON' gets UNSIGNED-PAYLOAD.",
         [1, 2, 3, 5, 8, 16], headers=seed_headers(content_type="Application/JSON")),
    case("content-type-octet-stream",
         "application/octet-stream gets UNSIGNED-PAYLOAD.",
         [1, 2, 3, 5, 8], method="PUT", headers=seed_headers(content_type="application/octet-stream"),
         body="binary-ish"),
    case("empty-body-unsigned-payload",
         "Empty body with the UNSIGNED-PAYLOAD header added: the payload hash is still the empty hash.",
         [1, 2, 3, 5, 7, 8], headers=seed_headers(content_type="text/plain"), body=""),
    case("caller-content-sha256-unsigned",
         "A caller-supplied X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD with a JSON body is used verbatim and signed.",
         [1, 2, 3, 5, 9, 16], headers=seed_headers(extra=[["X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"]])),
    case("caller-content-sha256-lowercase-arbitrary",
         "A lowercase x-sdk-content-sha256 with an arbitrary value is found case-insensitively and used verbatim.",
         [1, 2, 3, 5, 9, 16],
         headers=seed_headers(extra=[["x-sdk-content-sha256", "0123456789abcdef" * 4]])),
    case("caller-content-sha256-empty-body",
         "A caller-supplied X-Sdk-Content-Sha256 is ignored for the payload hash when the body is empty.",
         [1, 2, 3, 5, 7, 9], method="DELETE",
         headers=seed_headers(extra=[["X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"]]), body=""),

    # --- methods and bodies (quirk 15) ------------------------------------------------------------
    case("method-lowercase-post",
         "Lowercase method 'post' is uppercased in the canonical request.",
         [1, 2, 3, 5, 15, 16], method="post"),
    case("method-get-no-body",
         "GET without body (Content-Type kept, as the SDK's setdefault does): empty payload hash.",
         [1, 2, 3, 5], method="GET", query=[["limit", "10"], ["offset", "0"]],
         headers=seed_headers(region=None), body=""),
    case("method-get-with-body",
         "GET with a JSON body: the body is hashed like for POST.",
         [1, 2, 3, 5], method="GET", headers=seed_headers(region=None), body='{"q": 1}'),
    case("method-delete-no-body",
         "DELETE without body, no X-Sdk-Date header (clock time).",
         [1, 2, 3, 5], method="DELETE", path="/v5/%s/image/xyz" % PROJECT_ID,
         headers=seed_headers(date=None), body=""),
    case("method-delete-with-body",
         "DELETE with a JSON body.",
         [1, 2, 3, 5], method="DELETE", headers=seed_headers(), body='{"ids": ["a", "b"]}'),
    case("method-put-with-body",
         "PUT with a JSON body.",
         [1, 2, 3, 5], method="PUT", headers=seed_headers(), body='{"name": "x", "value": 2}'),
    case("method-put-no-body",
         "PUT without body: empty payload hash.",
         [1, 2, 3, 5], method="PUT", headers=seed_headers(), body=""),
    case("method-lowercase-get",
         "Lowercase 'get' without body is uppercased in the canonical request.",
         [1, 2, 3, 5, 15], method="get", headers=minimal_headers(), body=""),
    case("body-non-ascii-json",
         "JSON body with non-ASCII text, hashed as its UTF-8 bytes.",
         [1, 2, 3, 5], body='{"image_type": "私有镜像", "note": "café 🚀"}'),
    case("body-compact-json",
         "Compact JSON body (no space after ':'): any body works as long as the hashed bytes are the sent ones.",
         [1, 2, 3, 5], body='{"image_type":"private_image"}'),

    # --- credentials ----------------------------------------------------------------------------
    case("credentials-unusual-characters",
         "AK with '+/=_~.' (copied verbatim into Authorization) and SK with spaces, symbols and non-ASCII (HMAC key = UTF-8 bytes).",
         [1, 2, 3, 5, 16], ak=UNUSUAL_AK, sk=UNUSUAL_SK),
    case("credentials-long-sk",
         "A 200-character SK, longer than the HMAC block size.",
         [1, 2, 3, 5, 16], sk=LONG_SK),
]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def dump_json(obj):
    """Sorted keys, 2-space indent, UTF-8 text, trailing newline. Non-ASCII characters are written
    raw, except whitespace and non-printable ones, which are \\u-escaped so they stay visible."""
    text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)
    out = []
    for ch in text:
        o = ord(ch)
        if o < 0x80 or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        elif o > 0xFFFF:
            v = o - 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)))
        else:
            out.append("\\u%04x" % o)
    return "".join(out) + "\n"


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return True


def sdk_text(value):
    """The SDK stores header values as UTF-8 bytes decoded as latin-1; get the text back."""
    return value.encode("latin-1").decode("utf-8")


@contextmanager
def fixed_clock(stamp):
    """Make datetime.utcnow() inside the SDK signer module return ``stamp``."""
    real = signer_module.datetime
    fixed = real.strptime(stamp, DATE_FORMAT)

    class FixedDatetime(real):
        @classmethod
        def utcnow(cls):
            return fixed

    signer_module.datetime = FixedDatetime
    try:
        yield
    finally:
        signer_module.datetime = real


# ---------------------------------------------------------------------------------------------
# SDK-HMAC-SHA256 signer vectors
# ---------------------------------------------------------------------------------------------

def validate_case(c):
    req = c["request"]
    names = [h[0] for h in req["headers"]]
    assert len(names) == len(set(names)), "%s: duplicate header name" % c["name"]
    lower = [n.lower() for n in names]
    assert len(lower) == len(set(lower)), "%s: header names differing only in case" % c["name"]
    for pair in req["query"] + req["headers"]:
        assert len(pair) == 2 and all(isinstance(x, str) for x in pair), c["name"]
    assert all(q in (1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16) for q in c["quirks"]), c["name"]


def build_sdk_request(c):
    req = c["request"]
    return SdkRequest(
        method=req["method"],
        schema="https",
        host=req["host"],
        resource_path=req["path"],
        query_params=[(k, v) for k, v in req["query"]],
        header_params={k: v for k, v in req["headers"]},
        body=req["body"] if req["body"] else None,
    )


def record_sdk_case(c):
    validate_case(c)
    ak, sk = c["credentials"]["ak"], c["credentials"]["sk"]
    credentials = BasicCredentials(ak, sk)
    request = build_sdk_request(c)

    with fixed_clock(c["time"]):
        # The signer's own internal steps, in the order Signer.sign() runs them, on a deep copy.
        signer = Signer(credentials)
        steps = copy.deepcopy(request)
        if isinstance(steps.body, str):
            steps.body = steps.body.encode("utf-8")
        signer._process_content_header(steps)
        t = signer._process_header_time(steps)
        signer._process_header_host(steps)
        signed_headers = signer._process_signed_headers(steps)
        canonical_request = signer._process_canonical_request(steps, signed_headers)
        string_to_sign = signer._process_string_to_sign(canonical_request, t)
        signature = signer._sign_string_to_sign(string_to_sign, sk)

        # The real thing.
        Signer(credentials).sign(request)

    authorization = request.header_params["Authorization"]
    signed_headers_text = ";".join(signed_headers)
    prefix = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=" % (ak, signed_headers_text)
    assert authorization.startswith(prefix), (c["name"], authorization)
    assert authorization[len(prefix):] == signature, "%s: intermediates do not reproduce sign()" % c["name"]

    headers_after = [[k, sdk_text(v)] for k, v in request.header_params.items()]
    record = dict(c)
    record["expected"] = {
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "signed_headers": signed_headers_text,
        "signature": signature,
        "authorization": authorization,
        "headers": headers_after,
        "uri": request.uri,
    }

    # Cross-check: the verifying server accepts this request as it would arrive on the wire.
    token = next((v for k, v in headers_after if k.lower() == "x-security-token"), None)
    body = c["request"]["body"].encode("utf-8")
    verdict, reason, _, server_canonical = verify_server.verify(
        c["request"]["method"].upper(), request.uri, headers_after, body, ak, sk, security_token=token)
    assert verdict == "accepted", "%s: verify_server rejects it: %s" % (c["name"], reason)
    assert server_canonical == canonical_request, "%s: verify_server canonical request differs" % c["name"]
    return record


def record_sdk_vectors():
    os.makedirs(SDK_DIR, exist_ok=True)
    names = [c["name"] for c in SDK_CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    changed = 0
    for c in SDK_CASES:
        record = record_sdk_case(c)
        changed += write_if_changed(os.path.join(SDK_DIR, c["name"] + ".json"), dump_json(record))
    for f in sorted(os.listdir(SDK_DIR)):
        if f.endswith(".json") and f[:-5] not in names:
            os.remove(os.path.join(SDK_DIR, f))
            print("removed stale %s" % f)
    print("sdk-hmac-sha256: %d cases, %d file(s) changed" % (len(SDK_CASES), changed))


# ---------------------------------------------------------------------------------------------
# HssClient.run_image_synchronize wire captures
# ---------------------------------------------------------------------------------------------

CLIENT_CASES = [
    {"name": "private-epid-0",
     "description": "private_image with enterprise_project_id=0, no region header.",
     "inputs": {"enterprise_project_id": "0", "region": None, "image_type": "private_image"}},
    {"name": "shared-no-epid",
     "description": "shared_image without enterprise_project_id or region: no query string.",
     "inputs": {"enterprise_project_id": None, "region": None, "image_type": "shared_image"}},
    {"name": "private-all-granted-eps-region",
     "description": "enterprise_project_id=all_granted_eps with an ASCII region header.",
     "inputs": {"enterprise_project_id": "all_granted_eps", "region": "cn-north-4", "image_type": "private_image"}},
    {"name": "private-epid-needs-encoding",
     "description": "enterprise_project_id 'ep id/1+é' is sent percent-encoded in the canonical query.",
     "inputs": {"enterprise_project_id": "ep id/1+é", "region": "cn-north-4", "image_type": "private_image"}},
    {"name": "private-epid-empty",
     "description": "An empty enterprise_project_id is kept and sent as 'enterprise_project_id='.",
     "inputs": {"enterprise_project_id": "", "region": None, "image_type": "private_image"}},
    {"name": "private-region-non-ascii",
     "description": "Non-ASCII region header value, sent as raw UTF-8 bytes and signed as text.",
     "inputs": {"enterprise_project_id": "0", "region": "中国-北京四", "image_type": "private_image"}},
    {"name": "private-security-token",
     "description": "Temporary AK/SK: X-Security-Token is sent and signed.",
     "inputs": {"enterprise_project_id": "0", "region": "cn-north-4", "image_type": "private_image",
                "security_token": LONG_TOKEN}},
    {"name": "private-project-id-needs-encoding",
     "description": "Project id 'proj id/é+1' is quote(safe='')-encoded in the path (its %2F becomes a "
                    "separator when signing) and sent raw in X-Project-Id.",
     "inputs": {"enterprise_project_id": "0", "region": None, "image_type": "private_image",
                "project_id": "proj id/é+1"}},
]


# Other operations of HssClient: the SDK's method, its request parameters (named as its request
# models name them) and body. Given out of order, the query parameters must go on the wire in the
# canonical order; header values with white space around them are sent and signed trimmed.
OPERATION_CASES = [
    {"name": "tasks-several-query-parameters", "operation": "list_image_scan_task",
     "description": "Seven query parameters, given out of canonical order, one needing percent-encoding.",
     "params": {"type": "image_sync", "task_type": "manualSync", "task_status": "scanning",
                "task_name": "nightly sync/é+1", "offset": 10, "limit": 50, "enterprise_project_id": "0"},
     "body": None},
    {"name": "registries-several-query-parameters", "operation": "list_registry",
     "description": "Six query parameters, given out of canonical order: a comma list, '&' and '=' in a value, "
                    "a non-ASCII enterprise_project_id.",
     "params": {"registry_type": "Harbor,Jfrog", "registry_name": "swr é&x=y", "status": "success",
                "offset": 100, "limit": 100, "enterprise_project_id": "ep id/1+é"},
     "body": None},
    {"name": "create-region-to-trim", "operation": "create_image_synchronize_task",
     "description": "A region header value with white space after it (sent and signed trimmed), and a "
                    "registry list in the body.",
     "params": {"enterprise_project_id": "all_granted_eps", "region": "cn-north-4 \t "},
     "body": {"sync_all_registries": False,
              "registry_info": [{"registry_id": "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c01",
                                 "registry_type": "SwrPrivate"}]}},
    {"name": "tasks-security-token", "operation": "list_image_scan_task",
     "description": "Temporary keys (X-Security-Token sent and signed) and three query parameters.",
     "params": {"type": "image_scan", "limit": 10, "offset": 0},
     "body": None, "security_token": LONG_TOKEN},
]


class _CaptureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._capture
        raise AttributeError(name)

    def _capture(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.captured.append({
            "method": self.command,
            "target": self.path,
            "headers": [[k, verify_server.latin1_to_utf8(v)] for k, v in self.headers.items()],
            "body": body.decode("utf-8"),
        })
        if self.command == "GET":
            data = b'{"data_list": [], "total_num": 0}'
        else:
            data = b'{"error_code":0,"error_description":"success"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", secrets.token_hex(16))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def record_client_case(spec, port, server):
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo

    given = spec["inputs"]
    inputs = {
        "ak": AK,
        "sk": SK,
        "project_id": given.get("project_id", PROJECT_ID),
        "security_token": given.get("security_token"),
        "enterprise_project_id": given["enterprise_project_id"],
        "region": given["region"],
        "image_type": given["image_type"],
        "user_agent": USER_AGENT_SUFFIX,
    }
    credentials = BasicCredentials(inputs["ak"], inputs["sk"], inputs["project_id"])
    if inputs["security_token"] is not None:
        credentials = credentials.with_security_token(inputs["security_token"])
    config = HttpConfig.get_default_config()
    config.user_agent = USER_AGENT_SUFFIX
    config.timeout = (10, 30)
    client = HssClient.new_builder() \
        .with_http_config(config) \
        .with_credentials(credentials) \
        .with_endpoint("http://127.0.0.1:%d" % port) \
        .build()

    server.captured.clear()
    with fixed_clock(TIME):
        response = client.run_image_synchronize(RunImageSynchronizeRequest(
            enterprise_project_id=inputs["enterprise_project_id"],
            region=inputs["region"],
            body=RunImageSynchronizeRequestInfo(image_type=inputs["image_type"]),
        ))
    assert response.status_code == 200 and response.error_code == 0, (spec["name"], response)
    assert len(server.captured) == 1, spec["name"]
    wire = server.captured[0]

    verdict, reason, _, _ = verify_server.verify(
        wire["method"], wire["target"], wire["headers"], wire["body"].encode("utf-8"),
        inputs["ak"], inputs["sk"], security_token=inputs["security_token"])
    assert verdict == "accepted", "%s: verify_server rejects the SDK client's request: %s" % (spec["name"], reason)

    return {"name": spec["name"], "description": spec["description"], "inputs": inputs, "wire": wire}


def record_operation_case(spec, port, server):
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkhss.v5 import (
        CreateImageSynchronizeTaskRequest, CreateImageSynchronizeTaskRequestInfo,
        CreateImageSynchronizeTaskRequestInfoRegistryInfo, HssClient, ListImageScanTaskRequest,
        ListRegistryRequest)

    requests = {
        "create_image_synchronize_task": CreateImageSynchronizeTaskRequest,
        "list_image_scan_task": ListImageScanTaskRequest,
        "list_registry": ListRegistryRequest,
    }
    security_token = spec.get("security_token")
    inputs = {
        "ak": AK,
        "sk": SK,
        "project_id": PROJECT_ID,
        "security_token": security_token,
        "user_agent": USER_AGENT_SUFFIX,
        "params": spec["params"],
        "body": spec["body"],
    }
    params = dict(spec["params"])
    if spec["body"] is not None:
        body = dict(spec["body"])
        body["registry_info"] = [CreateImageSynchronizeTaskRequestInfoRegistryInfo(**r)
                                 for r in body.get("registry_info", [])]
        params["body"] = CreateImageSynchronizeTaskRequestInfo(**body)
    credentials = BasicCredentials(AK, SK, PROJECT_ID)
    if security_token is not None:
        credentials = credentials.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    config.user_agent = USER_AGENT_SUFFIX
    config.timeout = (10, 30)
    client = HssClient.new_builder() \
        .with_http_config(config) \
        .with_credentials(credentials) \
        .with_endpoint("http://127.0.0.1:%d" % port) \
        .build()

    server.captured.clear()
    with fixed_clock(TIME):
        response = getattr(client, spec["operation"])(requests[spec["operation"]](**params))
    assert response.status_code == 200, (spec["name"], response)
    assert len(server.captured) == 1, spec["name"]
    wire = server.captured[0]

    verdict, reason, _, _ = verify_server.verify(
        wire["method"], wire["target"], wire["headers"], wire["body"].encode("utf-8"),
        AK, SK, security_token=security_token)
    assert verdict == "accepted", "%s: verify_server rejects the SDK client's request: %s" % (spec["name"], reason)

    return {"name": spec["name"], "operation": spec["operation"], "description": spec["description"],
            "inputs": inputs, "wire": wire}


# Must match CLIENT_CASE_PORT in tests/signing_vectors.rs.
CLIENT_CASE_PORT = 28517
# Must match CLIENT_OPERATION_PORT in tests/client_wire.rs.
CLIENT_OPERATION_PORT = 28519


def record_cases(directory, port, cases, record):
    """Records every case into ``directory`` (rewritten, byte-identical each run); removes stale
    files. Returns how many files changed."""
    os.makedirs(directory, exist_ok=True)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    server = ThreadingHTTPServer(("127.0.0.1", port), _CaptureHandler)
    server.daemon_threads = True
    server.captured = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    changed = 0
    try:
        for spec in cases:
            changed += write_if_changed(os.path.join(directory, spec["name"] + ".json"),
                                        dump_json(record(spec, port, server)))
    finally:
        server.shutdown()
        server.server_close()
    for f in sorted(os.listdir(directory)):
        if f.endswith(".json") and f[:-5] not in names:
            os.remove(os.path.join(directory, f))
            print("removed stale %s" % f)
    return changed


def record_client_vectors():
    changed = record_cases(CLIENT_DIR, CLIENT_CASE_PORT, CLIENT_CASES, record_client_case)
    changed += record_cases(os.path.join(CLIENT_DIR, "operations"), CLIENT_OPERATION_PORT, OPERATION_CASES,
                            record_operation_case)
    print("hss-client: %d cases, %d file(s) changed" % (len(CLIENT_CASES) + len(OPERATION_CASES), changed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh-client-cases", action="store_true",
                        help="no effect: tests/vectors/hss-client/ is re-recorded on every run (deterministic)")
    parser.parse_args()
    record_sdk_vectors()
    record_client_vectors()
    return 0


if __name__ == "__main__":
    sys.exit(main())
