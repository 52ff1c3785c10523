#!/usr/bin/env python3
"""The official Huawei Cloud Python SDK as a client of the HSS emulator (run with the oracle venv's python).

    sdk_against_emulator.py ENDPOINT --ak AK --sk SK [--security-token TOKEN]

ENDPOINT is what `hss-image-sync emulator` printed (`http://127.0.0.1:PORT`); AK/SK (and the security
token, for an emulator started with --security-token) are the ones the emulator was started with.

The emulator verifies all five signing algorithms of the SDK. The checks below use the SDK's default,
SDK-HMAC-SHA256 (HttpConfig.signing_algorithm = HMAC_SHA256, no derived predicate), unless they name another:
SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3 through HttpConfig.signing_algorithm, V11-HMAC-SHA256
through a derived predicate (the SDK's default one, which picks V11 for 127.0.0.1) with region cn-north-4 and
service hss, which HssClient never sets itself: injected with ClientBuilder.with_region(...) +
_with_derived_auth_service_name("hss"), or on the credentials with _process_derived_auth_params(...) as
record_algorithms.py does (what ClientBuilder.build() would do).

Checks:
  * HssClient.run_image_synchronize (the SDK builds, signs and sends the request) is accepted for varied
    image types, enterprise project IDs (absent, "0", "all_granted_eps", one needing percent-encoding),
    region headers (absent, ASCII, non-ASCII) and project IDs (including one needing percent-encoding);
    the SDK reports the emulator's 400/401 answers as ClientRequestException with code and request id;
  * requests signed with the SDK's Signer and sent with http.client are accepted untampered, and
    rejected with 401 APIG.0301 when tampered after signing (body, query, path, signed headers, Host,
    X-Sdk-Date, signature, wrong SK, missing Authorization) or dated outside the 15-minute window; a
    bad-signature answer carries `canonicalRequest:` followed by exactly the canonical request the SDK
    computes for what was sent (with `|` for newlines);
  * correctly signed requests with an invalid body get 400 HSS.0001 / HSS.0002, unknown paths and
    methods 404 APIG.0101;
  * every algorithm: HssClient signing with it is accepted (the Authorization sent names it) and refused with
    a wrong SK; V11 for another region or service is refused; requests signed with the algorithm's Signer
    class are accepted untampered and refused when the body, a signed header or the signature is changed,
    when signed with a wrong SK, or (V11) when the credential scope names another region; a refusal's
    `canonicalRequest:` is the SDK's canonical request for that algorithm (SM3 payload hash for the SM3 ones);
  * every response carries X-Request-Id (equal to the body's request_id on errors) and Date.
Prints one line per check and ends with "N passed, M failed"; exits non-zero if any check failed.
"""

import argparse
import copy
import datetime
import http.client
import json
import re
import os
import sys
from urllib.parse import urlparse, quote

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.http.http_handler import HttpHandler  # noqa: E402
from huaweicloudsdkcore.region.region import Region  # noqa: E402
from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: E402
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm  # noqa: E402
from huaweicloudsdkcore.signer.signer import (  # noqa: E402
    DerivationAKSKSigner, P256SHA256Signer, Signer, SM2SM3Signer, SM3Signer)
from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo  # noqa: E402

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER_PROJECT_ID = "ffffffffffffffffffffffffffffffff"
BODY = b'{"image_type": "private_image"}'
USER_AGENT = "huaweicloud-usdk-python/3.0; sdk-against-emulator"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SUCCESS = {"error_code": 0, "error_description": "success"}
# The V11 credential scope the emulator accepts by default.
REGION = "cn-north-4"
SERVICE = "hss"

HMAC_SHA256, HMAC_SM3, V11 = "SDK-HMAC-SHA256", "SDK-HMAC-SM3", "V11-HMAC-SHA256"
ECDSA, SM2 = "SDK-ECDSA-P256-SHA256", "SDK-SM2-SM3"
# The SDK's signer class of each algorithm (V11's also needs the service and region).
SIGNER_CLASS = {HMAC_SHA256: Signer, HMAC_SM3: SM3Signer, V11: DerivationAKSKSigner, ECDSA: P256SHA256Signer,
                SM2: SM2SM3Signer}
# HttpConfig.signing_algorithm of the algorithms chosen that way.
SDK_ENUM = {HMAC_SHA256: SigningAlgorithm.HMAC_SHA256, HMAC_SM3: SigningAlgorithm.HMAC_SM3,
            ECDSA: SigningAlgorithm.ECDSA_P256_SHA256, SM2: SigningAlgorithm.SM2_SM3}

PASSED = 0
FAILED = 0
RESPONSES = []  # (check name, status, X-Request-Id or None, Date or None)


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   %s" % name)
    else:
        FAILED += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()


def header(headers, name):
    """The value of header `name` (any case) in a list of [name, value] pairs or a dict."""
    items = headers.items() if isinstance(headers, dict) else headers
    return next((v for k, v in items if k.lower() == name.lower()), None)


def set_header(headers, name, value):
    """A copy of `headers` without `name` (any case), plus [name, value] unless value is None."""
    out = [[k, v] for k, v in headers if k.lower() != name.lower()]
    if value is not None:
        out.append([name, value])
    return out


def sdk_date(delta_minutes=0):
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=delta_minutes)
    return now.strftime(DATE_FORMAT)


class Context:
    def __init__(self, endpoint, ak, sk, token):
        parsed = urlparse(endpoint)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise SystemExit("ENDPOINT must look like http://127.0.0.1:PORT, got %r" % endpoint)
        self.endpoint = endpoint
        self.netloc = parsed.netloc
        self.hostname = parsed.hostname
        self.port = parsed.port
        self.ak, self.sk, self.token = ak, sk, token


# ---------------------------------------------------------------------------------------------
# the SDK client
# ---------------------------------------------------------------------------------------------

def run_sdk(ctx, name, image_type="private_image", epid=None, region=None, project_id=PROJECT_ID,
            sk=None, token="default", want=200, want_code=None, algorithm=None, derived=None, want_auth=HMAC_SHA256):
    """HssClient.run_image_synchronize against the emulator; `want` is the expected HTTP status.

    `algorithm`: HttpConfig.signing_algorithm (an SDK_ENUM key). `derived`: (region, service, how) for V11 through
    the SDK's default derived predicate, with the region and service injected either through the client builder
    (how="builder": with_region + _with_derived_auth_service_name) or on the credentials (how="credentials":
    _process_derived_auth_params, as ClientBuilder.build() does it). `want_auth`: the algorithm the Authorization
    sent must name."""
    token = ctx.token if token == "default" else token
    credentials = BasicCredentials(ctx.ak, sk or ctx.sk, project_id)
    if token is not None:
        credentials = credentials.with_security_token(token)
    config = HttpConfig.get_default_config()
    config.user_agent = "sdk-against-emulator"
    config.timeout = (10, 30)
    if algorithm is not None:
        config.signing_algorithm = SDK_ENUM[algorithm]
    seen = []
    handler = HttpHandler().add_response_handler(lambda **kw: seen.append(kw["response"]))
    builder = HssClient.new_builder().with_http_config(config).with_credentials(credentials) \
        .with_http_handler(handler)
    if derived is None:
        builder = builder.with_endpoint(ctx.endpoint)
    else:
        derived_region, service, how = derived
        credentials.with_derived_predicate(BasicCredentials.get_default_derived_predicate())
        if how == "builder":
            builder = builder.with_region(Region(derived_region, ctx.endpoint))._with_derived_auth_service_name(service)
        else:
            credentials._process_derived_auth_params(service, derived_region)
            builder = builder.with_endpoint(ctx.endpoint)
    client = builder.build()
    request = RunImageSynchronizeRequest(enterprise_project_id=epid, region=region,
                                         body=RunImageSynchronizeRequestInfo(image_type=image_type))
    detail = ""
    try:
        response = client.run_image_synchronize(request)
        ok = want == 200 and response.status_code == 200 and response.error_code == 0 \
            and response.error_description == "success"
        detail = str(response)
    except ClientRequestException as e:
        ok = e.status_code == want and e.error_code == want_code and len(e.request_id or "") >= 16
        detail = str(e)
    except Exception as e:  # noqa: BLE001 - a connection error is a failed check, not a crash
        ok = False
        detail = "%s: %s" % (type(e).__name__, e)
    ok = ok and len(seen) == 1
    if seen:
        r = seen[-1]
        RESPONSES.append((name, r.status_code, r.headers.get("X-Request-Id"), r.headers.get("Date")))
        ok = ok and bool(r.headers.get("X-Request-Id")) and bool(r.headers.get("Date"))
        ok = ok and (r.request.headers.get("Authorization") or "").startswith(want_auth + " ")
        detail += " sent: %s %s %s" % (r.request.method, r.request.url, dict(r.request.headers))
    check(name, ok, detail)


def test_sdk_client(ctx):
    run_sdk(ctx, "sdk client: private_image, no enterprise_project_id, no region")
    run_sdk(ctx, "sdk client: shared_image, enterprise_project_id 0, ASCII region", image_type="shared_image",
            epid="0", region="cn-north-4")
    run_sdk(ctx, "sdk client: all_granted_eps, non-ASCII region", epid="all_granted_eps", region="中国-北京四")
    run_sdk(ctx, "sdk client: enterprise_project_id needing percent-encoding", image_type="shared_image",
            epid="ep id/1+é", region="ap-southeast-3")
    run_sdk(ctx, "sdk client: project id needing percent-encoding, non-ASCII region", project_id="proj id/é+1",
            epid="0", region="中国-北京四")
    run_sdk(ctx, "sdk client: project id with :@~*, enterprise_project_id with reserved characters",
            image_type="shared_image", project_id="p:@~*", epid="企业 ~*'()!&x=y%z", region="  padded region  ")
    run_sdk(ctx, "sdk client: uuid enterprise_project_id", epid="9b6e1d43-7c3a-4c5e-9d0f-2a1b3c4d5e6f")
    run_sdk(ctx, "sdk client: image_type public_image -> 400 HSS.0001", image_type="public_image",
            want=400, want_code="HSS.0001")
    run_sdk(ctx, "sdk client: enterprise_project_id of 257 characters -> 400 HSS.0001", epid="e" * 257,
            want=400, want_code="HSS.0001")
    run_sdk(ctx, "sdk client: wrong SK -> 401 APIG.0301", sk=ctx.sk + "x", want=401, want_code="APIG.0301")
    if ctx.token is None:
        run_sdk(ctx, "sdk client: security token for a permanent AK -> 401 APIG.0301", token="unexpected-token",
                want=401, want_code="APIG.0301")
    else:
        run_sdk(ctx, "sdk client: no security token for a temporary AK -> 401 APIG.0301", token=None,
                want=401, want_code="APIG.0301")
        run_sdk(ctx, "sdk client: wrong security token -> 401 APIG.0301", token=ctx.token + "x",
                want=401, want_code="APIG.0301")


def test_sdk_algorithms(ctx):
    """HssClient with each of the other four algorithms."""
    for alg in (HMAC_SM3, ECDSA, SM2):
        run_sdk(ctx, "sdk client %s: accepted" % alg, algorithm=alg, want_auth=alg)
        run_sdk(ctx, "sdk client %s: shared_image, enterprise_project_id 0, non-ASCII region accepted" % alg,
                image_type="shared_image", epid="0", region="中国-北京四", algorithm=alg, want_auth=alg)
        run_sdk(ctx, "sdk client %s: wrong SK -> 401 APIG.0301" % alg, sk=ctx.sk + "x", algorithm=alg,
                want_auth=alg, want=401, want_code="APIG.0301")
    run_sdk(ctx, "sdk client V11 (region and service via the client builder): accepted",
            derived=(REGION, SERVICE, "builder"), want_auth=V11)
    run_sdk(ctx, "sdk client V11 (region and service on the credentials), enterprise_project_id 0: accepted",
            epid="0", region="cn-north-4", derived=(REGION, SERVICE, "credentials"), want_auth=V11)
    run_sdk(ctx, "sdk client V11 wins over signing_algorithm SM2_SM3 (the derived predicate first): accepted",
            algorithm=SM2, derived=(REGION, SERVICE, "credentials"), want_auth=V11)
    run_sdk(ctx, "sdk client V11: wrong SK -> 401 APIG.0301", sk=ctx.sk + "x", derived=(REGION, SERVICE, "builder"),
            want_auth=V11, want=401, want_code="APIG.0301")
    run_sdk(ctx, "sdk client V11: scope for region eu-west-0 -> 401 APIG.0301",
            derived=("eu-west-0", SERVICE, "credentials"), want_auth=V11, want=401, want_code="APIG.0301")
    run_sdk(ctx, "sdk client V11: scope for service apic -> 401 APIG.0301", derived=(REGION, "apic", "builder"),
            want_auth=V11, want=401, want_code="APIG.0301")


# ---------------------------------------------------------------------------------------------
# Signer + http.client
# ---------------------------------------------------------------------------------------------

class Signed:
    """A request as it is put on the wire: method, path, query pairs, headers ([name, text]), body; and the
    algorithm it was signed with."""

    def __init__(self, method, path, query, headers, body, algorithm=HMAC_SHA256):
        self.method, self.path, self.query, self.headers, self.body = method, path, list(query), headers, body
        self.algorithm = algorithm

    def target(self):
        req = SdkRequest(method=self.method, resource_path=self.path, query_params=list(self.query))
        Signer.process_request_uri(req)
        return req.uri

    def replace(self, **changes):
        other = copy.deepcopy(self)
        for key, value in changes.items():
            setattr(other, key, value)
        return other


def base_headers(ctx, project_id=PROJECT_ID, region="cn-north-4", token="default", date=None):
    token = ctx.token if token == "default" else token
    headers = [("Content-Type", "application/json"), ("User-Agent", USER_AGENT), ("X-Project-Id", project_id)]
    if region is not None:
        headers.append(("region", region))
    if token is not None:
        headers.append(("X-Security-Token", token))
    if date is not None:
        headers.append(("X-Sdk-Date", date))
    return headers


def sign(ctx, method="POST", project_id=PROJECT_ID, path=None, query=(("enterprise_project_id", "0"),),
         headers=None, body=BODY, sk=None, algorithm=HMAC_SHA256):
    """Signs with the SDK's signer class for `algorithm` (the real clock unless headers carry X-Sdk-Date;
    V11 for REGION and SERVICE)."""
    if path is None:
        path = "/v5/%s/image/synchronize" % quote(project_id, safe="")
    if headers is None:
        headers = base_headers(ctx, project_id)
    req = SdkRequest(method=method, schema="http", host=ctx.netloc, resource_path=path,
                     query_params=list(query), header_params=dict(headers), body=body or None)
    signer = SIGNER_CLASS[algorithm](BasicCredentials(ctx.ak, sk or ctx.sk))
    if algorithm == V11:
        signer.sign(req, SERVICE, REGION)
    else:
        signer.sign(req)
    wire = [[k, v.encode("latin-1").decode("utf-8")] for k, v in req.header_params.items()]
    return Signed(method, path, query, wire, body, algorithm)


def sdk_canonical(ctx, signed):
    """The canonical request the SDK computes for `signed` as it is sent, over its SignedHeaders, with the
    payload hash of the algorithm it was signed with."""
    names = header(signed.headers, "Authorization").split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    headers = {k: v for k, v in signed.headers if k.lower() in names}
    req = SdkRequest(method=signed.method, schema="http", host=ctx.netloc, resource_path=signed.path,
                     query_params=list(signed.query), header_params=headers, body=signed.body or None)
    # The client-side Content-Type rule only adds X-Sdk-Content-Sha256 for non-JSON types; ours are JSON.
    signer = SIGNER_CLASS[signed.algorithm](BasicCredentials(ctx.ak, ctx.sk))
    return signer._process_canonical_request(req, names)


def send(ctx, signed, target=None):
    """Sends exactly these headers (values as raw UTF-8) with http.client; returns (status, headers, json)."""
    conn = http.client.HTTPConnection(ctx.hostname, ctx.port, timeout=30)
    try:
        conn.putrequest(signed.method, target or signed.target(), skip_host=True, skip_accept_encoding=True)
        for k, v in signed.headers:
            conn.putheader(k, v.encode("utf-8"))
        conn.putheader("Content-Length", str(len(signed.body)))
        conn.endheaders(signed.body or None)
        resp = conn.getresponse()
        data = resp.read()
        try:
            payload = json.loads(data)
        except ValueError:
            payload = data
        return resp.status, resp.headers, payload  # resp.headers: case-insensitive .get()
    finally:
        conn.close()


def expect(ctx, name, signed, status_wanted, code=None, target=None, canonical=False):
    """Sends `signed`; checks the status, the error code and X-Request-Id/Date. With canonical=True, also
    that the 401's message carries `canonicalRequest:` + the SDK's canonical request of what was sent."""
    try:
        status, rh, payload = send(ctx, signed, target)
    except OSError as e:
        check(name, False, "%s: %s" % (type(e).__name__, e))
        return None
    rid = rh.get("X-Request-Id")
    RESPONSES.append((name, status, rid, rh.get("Date")))
    ok = status == status_wanted and bool(rid) and bool(rh.get("Date"))
    if status_wanted == 200:
        ok = ok and payload == SUCCESS
    else:
        ok = ok and isinstance(payload, dict) and payload.get("error_code") == code \
            and payload.get("request_id") == rid and bool(payload.get("error_msg"))
        if code == "APIG.0301":
            ok = ok and payload["error_msg"].startswith("Incorrect IAM authentication information: ")
    detail = "status=%s headers=%s body=%s; sent %s %s %s" % (
        status, dict(rh.items()), payload, signed.method, target or signed.target(), signed.headers)
    check(name, ok, detail)
    if canonical and isinstance(payload, dict):
        msg = payload.get("error_msg", "")
        # The emulator masks the (secret) security token in what it shows.
        expected = re.sub(r"(?m)^x-security-token:.*$", "x-security-token:******",
                          sdk_canonical(ctx, signed)).replace("\n", "|")
        got = msg.split("canonicalRequest:", 1)[1] if "canonicalRequest:" in msg else None
        check(name + ": message has canonicalRequest: equal to the SDK's", got == expected,
              "\n  got      %r\n  expected %r" % (got, expected))
    return payload


def test_signed(ctx):
    good = sign(ctx)
    expect(ctx, "signed: untampered request accepted", good, 200)
    expect(ctx, "signed: non-ASCII region, no query accepted",
           sign(ctx, query=(), headers=base_headers(ctx, region="中国-北京四")), 200)
    odd_project = "proj id/é+1"
    expect(ctx, "signed: project id and enterprise_project_id needing percent-encoding accepted",
           sign(ctx, project_id=odd_project, query=[("enterprise_project_id", "ep id/1+é")],
                headers=base_headers(ctx, odd_project, region=None)), 200)
    expect(ctx, "signed: X-Sdk-Date 10 minutes old accepted", sign(ctx, headers=base_headers(ctx, date=sdk_date(-10))),
           200)
    expect(ctx, "signed: X-Sdk-Date 10 minutes ahead accepted", sign(ctx, headers=base_headers(ctx, date=sdk_date(10))),
           200)

    # Tampering after signing: each must be refused by the signature check.
    expect(ctx, "tamper: body changed", good.replace(body=BODY.replace(b"private", b"shared")), 401, "APIG.0301",
           canonical=True)
    expect(ctx, "tamper: query value changed", good.replace(query=[("enterprise_project_id", "1")]), 401,
           "APIG.0301", canonical=True)
    expect(ctx, "tamper: query removed", good.replace(query=[]), 401, "APIG.0301", canonical=True)
    expect(ctx, "tamper: query parameter added", good.replace(query=good.query + [("x", "1")]), 401, "APIG.0301",
           canonical=True)
    other_path = "/v5/%s/image/synchronize" % OTHER_PROJECT_ID
    expect(ctx, "tamper: path changed (different project id)", good.replace(path=other_path), 401, "APIG.0301",
           canonical=True)
    expect(ctx, "tamper: region header changed", good.replace(headers=set_header(good.headers, "region", "cn-east-3")),
           401, "APIG.0301", canonical=True)
    expect(ctx, "tamper: User-Agent changed", good.replace(headers=set_header(good.headers, "User-Agent", "evil")),
           401, "APIG.0301", canonical=True)
    expect(ctx, "tamper: Host changed", good.replace(headers=set_header(good.headers, "Host", "127.0.0.1:1")),
           401, "APIG.0301", canonical=True)
    signed_at = datetime.datetime.strptime(header(good.headers, "X-Sdk-Date"), DATE_FORMAT)
    expect(ctx, "tamper: X-Sdk-Date changed by one second after signing",
           good.replace(headers=set_header(good.headers, "X-Sdk-Date",
                                           (signed_at + datetime.timedelta(seconds=1)).strftime(DATE_FORMAT))),
           401, "APIG.0301", canonical=True)
    auth = header(good.headers, "Authorization")
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    expect(ctx, "tamper: signature changed", good.replace(headers=set_header(good.headers, "Authorization", flipped)),
           401, "APIG.0301", canonical=True)
    expect(ctx, "tamper: signed with a wrong SK", sign(ctx, sk=ctx.sk + "x"), 401, "APIG.0301", canonical=True)
    expect(ctx, "tamper: signed header removed",
           good.replace(headers=set_header(good.headers, "X-Project-Id", None)), 401, "APIG.0301")
    expect(ctx, "tamper: Authorization missing", good.replace(headers=set_header(good.headers, "Authorization", None)),
           401, "APIG.0301")
    expect(ctx, "tamper: X-Sdk-Date 20 minutes old (validly signed)",
           sign(ctx, headers=base_headers(ctx, date=sdk_date(-20))), 401, "APIG.0301")
    expect(ctx, "tamper: X-Sdk-Date 20 minutes ahead (validly signed)",
           sign(ctx, headers=base_headers(ctx, date=sdk_date(20))), 401, "APIG.0301")
    expect(ctx, "tamper: unknown AK in Authorization",
           good.replace(headers=set_header(good.headers, "Authorization",
                                           auth.replace("Access=%s," % ctx.ak, "Access=NOTTHEAK,"))), 401, "APIG.0301")

    # Security token handling.
    if ctx.token is None:
        expect(ctx, "token: signed X-Security-Token refused for a permanent AK",
               sign(ctx, headers=base_headers(ctx, token="unexpected-token")), 401, "APIG.0301")
    else:
        expect(ctx, "token: request without X-Security-Token refused", sign(ctx, headers=base_headers(ctx, token=None)),
               401, "APIG.0301")
        expect(ctx, "token: wrong X-Security-Token refused",
               sign(ctx, headers=base_headers(ctx, token=ctx.token + "x")), 401, "APIG.0301")
        unsigned = sign(ctx, headers=base_headers(ctx, token=None))
        expect(ctx, "token: X-Security-Token added after signing refused",
               unsigned.replace(headers=unsigned.headers + [["X-Security-Token", ctx.token]]), 401, "APIG.0301")
        expect(ctx, "token: X-Security-Token changed after signing refused",
               good.replace(headers=set_header(good.headers, "X-Security-Token", ctx.token + "x")), 401, "APIG.0301")

    # Correctly signed, invalid for the service or the gateway's routes.
    expect(ctx, "invalid: image_type public_image -> 400 HSS.0001", sign(ctx, body=b'{"image_type": "public_image"}'),
           400, "HSS.0001")
    expect(ctx, "invalid: body 'not json' -> 400 HSS.0002", sign(ctx, body=b"not json"), 400, "HSS.0002")
    expect(ctx, "invalid: enterprise_project_id of 257 characters -> 400 HSS.0001",
           sign(ctx, query=[("enterprise_project_id", "e" * 257)]), 400, "HSS.0001")
    expect(ctx, "invalid: unknown path -> 404 APIG.0101",
           sign(ctx, path="/v5/%s/image/unknown" % PROJECT_ID), 404, "APIG.0101")
    expect(ctx, "invalid: GET on the API path -> 404 APIG.0101", sign(ctx, method="GET", body=b""), 404, "APIG.0101")

    # After all the refusals, the same sending still works (no lock-out, nothing left broken).
    expect(ctx, "signed: fresh untampered request still accepted", sign(ctx), 200)


def flip_last(text):
    """`text` with its last hex digit changed."""
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def test_signed_algorithms(ctx):
    """Each of the other four algorithms' signer classes: accepted untampered, refused once tampered."""
    for alg in (HMAC_SM3, V11, ECDSA, SM2):
        good = sign(ctx, algorithm=alg)
        auth = header(good.headers, "Authorization")
        check("signed %s: Authorization names the algorithm" % alg, auth.startswith(alg + " "), auth)
        expect(ctx, "signed %s: untampered request accepted" % alg, good, 200)
        expect(ctx, "signed %s: non-ASCII region, no query accepted" % alg,
               sign(ctx, query=(), headers=base_headers(ctx, region="中国-北京四"), algorithm=alg), 200)
        expect(ctx, "signed %s tamper: body changed" % alg, good.replace(body=BODY.replace(b"private", b"shared")),
               401, "APIG.0301", canonical=True)
        expect(ctx, "signed %s tamper: User-Agent changed" % alg,
               good.replace(headers=set_header(good.headers, "User-Agent", "evil")), 401, "APIG.0301", canonical=True)
        expect(ctx, "signed %s tamper: signature changed" % alg,
               good.replace(headers=set_header(good.headers, "Authorization", flip_last(auth))), 401, "APIG.0301",
               canonical=True)
        expect(ctx, "signed %s tamper: signed with a wrong SK" % alg, sign(ctx, sk=ctx.sk + "x", algorithm=alg), 401,
               "APIG.0301", canonical=True)
        if alg == V11:
            rescoped = auth.replace("/%s/%s," % (REGION, SERVICE), "/cn-east-3/%s," % SERVICE)
            expect(ctx, "signed V11 tamper: credential scope for region cn-east-3",
                   good.replace(headers=set_header(good.headers, "Authorization", rescoped)), 401, "APIG.0301")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("endpoint")
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--security-token")
    args = parser.parse_args()
    ctx = Context(args.endpoint, args.ak, args.sk, args.security_token)
    print("emulator %s, %s AK" % (ctx.endpoint, "temporary" if ctx.token else "permanent"))

    test_sdk_client(ctx)
    test_sdk_algorithms(ctx)
    test_signed(ctx)
    test_signed_algorithms(ctx)
    missing = [(name, status) for name, status, rid, date in RESPONSES if not rid or not date]
    check("all %d responses carry X-Request-Id and Date" % len(RESPONSES), RESPONSES and not missing, str(missing))
    ids = [rid for _, _, rid, _ in RESPONSES]
    check("request ids are unique", len(set(ids)) == len(ids), str(ids))

    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
