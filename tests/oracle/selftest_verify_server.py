#!/usr/bin/env python3
"""Self-test of verify_server.py (run with the oracle venv's python).

Starts verify_server.py subprocesses on 127.0.0.1 (random ports) and checks that:
  * requests signed by the official SDK client (HssClient.run_image_synchronize) are accepted,
  * every recorded vector of tests/vectors/sdk-hmac-sha256, replayed over HTTP, is accepted,
  * tampered requests (body, query, path, method, signed header, Host, date, credentials,
    security token) are rejected with 401 APIG.0301, and garbage input never kills the server,
  * responses carry X-Request-Id and Content-Type: application/json, the log has one JSON line
    per handled request, and SIGTERM stops the server.
Prints "N passed, 0 failed" at the end and exits non-zero on any failure.
"""

import copy
import glob
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(REPO_ROOT, "tests", "vectors", "sdk-hmac-sha256")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: E402
from huaweicloudsdkcore.signer.signer import Signer  # noqa: E402
from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo  # noqa: E402

AK = "HPUAL8FWGBJPNSCL4E2X"
SK = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo"
PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TOKEN = "selftest-token/" + "Ab+9=" * 200
PATH = "/v5/%s/image/synchronize" % PROJECT_ID
BODY = b'{"image_type": "private_image"}'

PASSED = 0
FAILED = 0


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   %s" % name)
    else:
        FAILED += 1
        print("FAIL %s %s" % (name, detail))


# ---------------------------------------------------------------------------------------------
# server processes
# ---------------------------------------------------------------------------------------------

class Server:
    def __init__(self, tmpdir, label, ak=AK, sk=SK, token=None, extra=()):
        self.log = os.path.join(tmpdir, label + ".log")
        self.ak, self.sk, self.token = ak, sk, token
        args = [sys.executable, os.path.join(HERE, "verify_server.py"), "--ak", ak, "--sk", sk,
                "--port", "0", "--log", self.log]
        if token is not None:
            args += ["--security-token", token]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("verify_server did not start: %r %r" % (line, self.proc.stderr.read()))
        self.first_line = line
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.expected_verdicts = []

    def log_lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(x) for x in f]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------
# signing and sending
# ---------------------------------------------------------------------------------------------

def sdk_sign(host, method="POST", path=PATH, query=(("enterprise_project_id", "0"),), headers=None,
             body=BODY, ak=AK, sk=SK):
    """Sign with the SDK Signer (real clock); returns (target, [[name, text]], body bytes)."""
    if headers is None:
        headers = [("Content-Type", "application/json"),
                   ("User-Agent", "huaweicloud-usdk-python/3.0; selftest"),
                   ("X-Project-Id", PROJECT_ID)]
    req = SdkRequest(method=method, schema="http", host=host, resource_path=path,
                     query_params=list(query), header_params=dict(headers), body=body or None)
    Signer(BasicCredentials(ak, sk)).sign(req)
    hdrs = [[k, v.encode("latin-1").decode("utf-8")] for k, v in req.header_params.items()]
    return req.uri, hdrs, body or b""


def send(server, method, target, headers, body=b"", chunked=False):
    """Send with http.client exactly these headers (values as raw UTF-8); returns (status, headers, json)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v.encode("utf-8"))
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                if part:
                    conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        else:
            has_length = any(k.lower() == "content-length" for k, _ in headers)
            if not has_length and (body or method in ("POST", "PUT", "PATCH")):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        return resp.status, dict(resp.getheaders()), payload
    finally:
        conn.close()


def set_header(headers, name, value):
    out = [[k, v] for k, v in headers if k.lower() != name.lower()]
    if value is not None:
        out.append([name, value])
    return out


def get_header(headers, name):
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def expect(server, name, status_wanted, method, target, headers, body=b"", chunked=False, reason_part=None):
    status, rh, payload = send(server, method, target, headers, body, chunked)
    server.expected_verdicts.append((name, "accepted" if status_wanted == 200 else "rejected", reason_part))
    ok = status == status_wanted
    rid = rh.get("X-Request-Id", "")
    ok = ok and len(rid) >= 16 and rh.get("Content-Type") == "application/json"
    if status_wanted == 200:
        ok = ok and payload == {"error_code": 0, "error_description": "success"}
    else:
        ok = ok and isinstance(payload, dict) and payload.get("error_code") == "APIG.0301" \
            and payload.get("request_id") == rid \
            and payload.get("error_msg", "").startswith("Incorrect IAM authentication information: ")
    check(name, ok, "status=%s headers=%s body=%s" % (status, rh, payload))
    return status, rh, payload


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------

def hss_client(server, ak=AK, sk=SK, project_id=PROJECT_ID, token=None):
    credentials = BasicCredentials(ak, sk, project_id)
    if token is not None:
        credentials = credentials.with_security_token(token)
    config = HttpConfig.get_default_config()
    config.user_agent = "selftest"
    config.timeout = (10, 30)
    return HssClient.new_builder().with_http_config(config).with_credentials(credentials) \
        .with_endpoint("http://127.0.0.1:%d" % server.port).build()


def run_sdk(server, name, accepted, image_type="private_image", epid="0", region=None, **client_kw):
    client = hss_client(server, **client_kw)
    request = RunImageSynchronizeRequest(enterprise_project_id=epid, region=region,
                                         body=RunImageSynchronizeRequestInfo(image_type=image_type))
    server.expected_verdicts.append((name, "accepted" if accepted else "rejected", None))
    try:
        response = client.run_image_synchronize(request)
        check(name, accepted and response.status_code == 200 and response.error_code == 0
              and response.error_description == "success", str(response))
    except ClientRequestException as e:
        check(name, not accepted and e.status_code == 401 and e.error_code == "APIG.0301"
              and len(e.request_id or "") >= 16, str(e))


def test_sdk_client(a, b):
    run_sdk(a, "sdk client: private_image, epid 0", True)
    run_sdk(a, "sdk client: shared_image, no epid, region", True, image_type="shared_image", epid=None,
            region="cn-north-4")
    run_sdk(a, "sdk client: epid needing encoding, non-ASCII region", True, epid="ep id/1+é",
            region="中国-北京四")
    run_sdk(a, "sdk client: all_granted_eps, project id needing encoding", True, epid="all_granted_eps",
            project_id="proj id/é+1")
    run_sdk(a, "sdk client: empty epid", True, epid="")
    run_sdk(b, "sdk client: security token", True, region="cn-north-4", token=TOKEN)
    run_sdk(a, "sdk client: wrong SK is rejected", False, sk=SK + "x")
    run_sdk(a, "sdk client: unexpected security token is rejected", False, token=TOKEN)
    run_sdk(b, "sdk client: missing security token is rejected", False)
    run_sdk(b, "sdk client: wrong security token is rejected", False, token=TOKEN + "x")


def test_raw(a):
    host = "127.0.0.1:%d" % a.port
    target, headers, body = sdk_sign(host)
    expect(a, "raw: SDK-signed request accepted", 200, "POST", target, headers, body)
    expect(a, "raw: lowercase header names on the wire accepted", 200, "POST", target,
           [[k.lower(), v] for k, v in headers], body)
    expect(a, "raw: header order on the wire does not matter", 200, "POST", target, list(reversed(headers)), body)
    expect(a, "raw: extra unsigned header accepted", 200, "POST", target, headers + [["X-Extra", "whatever"]], body)
    expect(a, "raw: chunked body accepted", 200, "POST", target,
           [h for h in headers if h[0].lower() != "content-length"], body, chunked=True)

    t2, h2, b2 = sdk_sign(host, headers=[("Content-Type", "application/json"), ("X_Under_Score", "x"),
                                         ("X-Empty", ""), ("region", "中国")])
    expect(a, "raw: '_' header unsigned, empty and non-ASCII values accepted", 200, "POST", t2, h2, b2)
    expect(a, "raw: '_' header may change after signing", 200, "POST", t2, set_header(h2, "X_Under_Score", "y"), b2)

    t3, h3, b3 = sdk_sign(host, method="GET", path="/v5/%s/a%%2Fb/p:r@o+j/x" % PROJECT_ID,
                          query=[("b", "2"), ("a", "3"), ("a", "1"), ("a", "10"), ("k", ""), ("sp ace", "é+/=&")],
                          body=b"")
    expect(a, "raw: GET, %2F and raw :@+ in path, repeated/empty/encoded query accepted", 200, "GET", t3, h3)
    path3, _, q3 = t3.partition("?")
    expect(a, "raw: query order on the wire does not matter", 200, "GET",
           path3 + "?" + "&".join(reversed(q3.split("&"))), h3)
    expect(a, "raw: '+' in query is not a space", 401, "GET", t3.replace("%20", "+"), h3)

    t4, h4, b4 = sdk_sign(host, headers=[("Content-Type", "text/plain")], body=b"plain text")
    check("raw: text/plain gets UNSIGNED-PAYLOAD", get_header(h4, "X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD")
    expect(a, "raw: UNSIGNED-PAYLOAD request accepted", 200, "POST", t4, h4, b4)
    expect(a, "raw: UNSIGNED-PAYLOAD body may change", 200, "POST", t4, h4, b"other text")

    # tampering
    _, _, payload = expect(a, "tamper: body changed", 401, "POST", target, headers,
                           body.replace(b"private", b"shared"), reason_part="signature mismatch")
    logged = a.log_lines()[-1]["canonical_request"]
    check("tamper: 401 error_msg carries the SDK canonical request",
          bool(logged) and payload["error_msg"] == "Incorrect IAM authentication information: "
          "verify aksk signature fail, canonicalRequest:" + logged and "shared_image" not in logged
          and logged.endswith("\n" + __import__("hashlib").sha256(body.replace(b"private", b"shared")).hexdigest()),
          str(payload))
    expect(a, "tamper: query value changed", 401, "POST", target.replace("=0", "=1"), headers, body)
    expect(a, "tamper: query param added", 401, "POST", target + "&x=1", headers, body)
    expect(a, "tamper: query removed", 401, "POST", target.partition("?")[0], headers, body)
    expect(a, "tamper: path changed", 401, "POST", target.replace("/image/", "/images/"), headers, body)
    # Not detectable by design (quirk 1 and 13): the canonical URI always ends in "/" and %2F is a separator.
    expect(a, "equivalent: trailing slash added to path still verifies", 200, "POST",
           target.replace("synchronize?", "synchronize/?"), headers, body)
    expect(a, "equivalent: '/' sent as %2F still verifies", 200, "POST",
           target.replace("/image/", "/image%2F"), headers, body)
    expect(a, "tamper: method changed", 401, "PUT", target, headers, body)
    expect(a, "tamper: signed header value changed", 401, "POST", target,
           set_header(headers, "User-Agent", "evil"), body)
    expect(a, "tamper: signed header removed", 401, "POST", target, set_header(headers, "X-Project-Id", None),
           body, reason_part="missing")
    expect(a, "tamper: Host changed", 401, "POST", target, set_header(headers, "Host", "127.0.0.1:1"), body)
    expect(a, "tamper: Host missing", 401, "POST", target, set_header(headers, "Host", None), body,
           reason_part="Host")
    expect(a, "tamper: X-Sdk-Date changed", 401, "POST", target,
           set_header(headers, "X-Sdk-Date", "20240315T081530Z"), body)
    expect(a, "garbage: malformed X-Sdk-Date", 401, "POST", target, set_header(headers, "X-Sdk-Date", "2024-03-15"),
           body, reason_part="X-Sdk-Date")
    auth = get_header(headers, "Authorization")
    expect(a, "garbage: x-sdk-date not signed", 401, "POST", target,
           set_header(headers, "Authorization", auth.replace(";x-sdk-date", "")), body, reason_part="x-sdk-date")
    expect(a, "tamper: SignedHeaders reordered", 401, "POST", target,
           set_header(headers, "Authorization", auth.replace("content-type;host", "host;content-type")), body,
           reason_part="SignedHeaders")
    expect(a, "tamper: signature changed", 401, "POST", target,
           set_header(headers, "Authorization", auth[:-4] + ("0000" if not auth.endswith("0000") else "1111")), body)
    expect(a, "garbage: Authorization missing", 401, "POST", target, set_header(headers, "Authorization", None),
           body, reason_part="Authorization")
    expect(a, "garbage: Authorization not SDK-HMAC-SHA256", 401, "POST", target,
           set_header(headers, "Authorization", "Bearer abc"), body, reason_part="malformed")
    expect(a, "garbage: Authorization with non-ASCII", 401, "POST", target,
           set_header(headers, "Authorization", "SDK-HMAC-SHA256 Access=é, SignedHeaders=ü, Signature=zz"), body)
    t5, h5, b5 = sdk_sign(host, sk=SK + "x")
    expect(a, "tamper: wrong SK", 401, "POST", t5, h5, b5, reason_part="signature mismatch")
    t6, h6, b6 = sdk_sign(host, ak="OTHERAK")
    expect(a, "tamper: unknown AK", 401, "POST", t6, h6, b6, reason_part="AK")
    expect(a, "garbage: GET on any path without auth", 401, "GET", "/", [["Host", host]])
    expect(a, "garbage: bad Content-Length", 401, "POST", target,
           set_header(headers, "Content-Length", "abc"), reason_part="body")

    # garbage on the socket must not kill the server
    for raw in (b"GARBAGE\r\n\r\n", b"\x00\xff\xfe binary junk\r\n\r\n", b"POST / HTTP/1.1\r\nHost\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
        except OSError:
            pass
        finally:
            s.close()
    # the last one reaches the handler (malformed header line, no Host value)
    a.expected_verdicts.append(("garbage: header line without colon", "rejected", None))
    check("garbage: server still alive after raw junk", a.proc.poll() is None)
    target, headers, body = sdk_sign(host)
    expect(a, "raw: accepted after junk", 200, "POST", target, headers, body)


def test_token(b):
    host = "127.0.0.1:%d" % b.port
    base = [("Content-Type", "application/json"), ("X-Project-Id", PROJECT_ID)]
    t, h, body = sdk_sign(host, headers=base + [("X-Security-Token", TOKEN)])
    expect(b, "token: signed token accepted", 200, "POST", t, h, body)
    t, h, body = sdk_sign(host, headers=base)
    expect(b, "token: missing token rejected", 401, "POST", t, h, body, reason_part="X-Security-Token")
    expect(b, "token: unsigned token rejected", 401, "POST", t, h + [["X-Security-Token", TOKEN]], body,
           reason_part="X-Security-Token")
    t, h, body = sdk_sign(host, headers=base + [("X-Security-Token", TOKEN + "x")])
    expect(b, "token: wrong token rejected", 401, "POST", t, h, body, reason_part="X-Security-Token")


def test_skew(tmpdir):
    c = Server(tmpdir, "skew", extra=["--max-skew-seconds", "900"])
    try:
        host = "127.0.0.1:%d" % c.port
        t, h, body = sdk_sign(host)
        expect(c, "skew: current date accepted", 200, "POST", t, h, body)
        t, h, body = sdk_sign(host, headers=[("Content-Type", "application/json"), ("X-Sdk-Date", "20240315T081530Z")])
        expect(c, "skew: old date rejected", 401, "POST", t, h, body, reason_part="server time")
    finally:
        check("skew: SIGTERM exit code 0", c.stop() == 0)


def test_vectors(tmpdir):
    """Replay every recorded SDK-HMAC-SHA256 vector over HTTP against a server with its credentials."""
    files = sorted(glob.glob(os.path.join(VECTORS, "*.json")))
    check("vectors: at least 45 recorded", len(files) >= 45, str(len(files)))
    groups = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            v = json.load(fh)
        token = get_header(v["expected"]["headers"], "X-Security-Token")
        groups.setdefault((v["credentials"]["ak"], v["credentials"]["sk"], token), []).append(v)
    for i, ((ak, sk, token), vectors) in enumerate(sorted(groups.items(), key=lambda g: g[1][0]["name"])):
        srv = Server(tmpdir, "vectors-%d" % i, ak=ak, sk=sk, token=token)
        try:
            for v in vectors:
                body = v["request"]["body"].encode("utf-8")
                hdrs = copy.deepcopy(v["expected"]["headers"])
                expect(srv, "vector replay: %s" % v["name"], 200, v["request"]["method"].upper(),
                       v["expected"]["uri"], hdrs, body)
                log = srv.log_lines()
                check("vector replay: %s: server canonical request equals the SDK's" % v["name"],
                      bool(log) and log[-1]["canonical_request"] == v["expected"]["canonical_request"])
        finally:
            srv.stop()


def check_log(server, label):
    lines = server.log_lines()
    wanted = server.expected_verdicts
    check("%s log: one line per handled request (%d)" % (label, len(wanted)), len(lines) == len(wanted),
          "got %d" % len(lines))
    for (name, verdict, reason_part), line in zip(wanted, lines):
        ok = line.get("verdict") == verdict and set(line) >= {
            "verdict", "reason", "method", "target", "headers", "body", "canonical_request"}
        if reason_part:
            ok = ok and reason_part in line.get("reason", "")
        check("%s log: %s -> %s" % (label, name, verdict), ok, json.dumps(line, ensure_ascii=False)[:600])


def main():
    with tempfile.TemporaryDirectory(prefix="verify-server-selftest-") as tmpdir:
        a = Server(tmpdir, "plain")
        b = Server(tmpdir, "token", token=TOKEN)
        try:
            check("startup line is exactly 'listening on 127.0.0.1:PORT'",
                  a.first_line == "listening on 127.0.0.1:%d\n" % a.port)
            test_sdk_client(a, b)
            test_raw(a)
            test_token(b)
            # the rejection message carries the canonical request the SDK computed
            lines = a.log_lines()
            tampered = [x for x in lines if x["reason"] == "signature mismatch" and x["canonical_request"]]
            check("log: rejected entries carry the SDK canonical request", bool(tampered))
            check_log(a, "plain")
            check_log(b, "token")
        finally:
            for srv, label in ((a, "plain"), (b, "token")):
                alive = srv.proc.poll() is None
                code = srv.stop()
                check("%s server: alive until SIGTERM, then exits 0" % label, alive and code == 0, str(code))
        test_skew(tmpdir)
        test_vectors(tmpdir)

    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
