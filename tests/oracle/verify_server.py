#!/usr/bin/env python3
"""A local HTTP/1.1 server that verifies Huawei Cloud AK/SK (SDK-HMAC-SHA256) signatures.

It plays the API gateway for tests: for every request (any method, any path) it rebuilds an
``SdkRequest`` from exactly what arrived on the wire and lets the official Python SDK's
``Signer`` compute the signature, then compares the Authorization the SDK produces with the one
received. The SDK is used as a test oracle only.

Usage:
    verify_server.py --ak AK --sk SK [--security-token TOKEN] [--port 0]
                     [--max-skew-seconds N] --log FILE

On start it prints exactly one line, ``listening on 127.0.0.1:PORT``, to stdout. It runs until
killed (SIGTERM / SIGINT). Accepted requests get ``200 {"error_code":0,"error_description":"success"}``;
rejected ones get ``401`` with an APIG.0301 body. Every request appends one JSON line to --log.

How the request is rebuilt (see README.md next to this file):
  * method         = the request method as received
  * host           = the Host header
  * resource_path  = the raw request target before "?", not decoded
  * query_params   = the raw query split on "&" then on the first "=", each side
                     percent-decoded with urllib.parse.unquote (not unquote_plus), order kept,
                     "k=" and a bare "k" give "", empty segments are skipped
  * header_params  = only the headers named in SignedHeaders, keyed by the lowercase name from
                     SignedHeaders, with the received value (latin-1 bytes re-decoded as UTF-8)
  * body           = the raw body bytes (Content-Length, or chunked transfer coding)
Keying the headers by their lowercase names makes the verdict independent of the header-name
case used on the wire (hyper, for one, sends lowercase names), and it keeps the SDK's client-side
"exact key Content-Type => add X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD" step from inventing a
header that was never sent: the payload hash is the signed X-Sdk-Content-Sha256 value when one
was signed, else the hash of the received body, as a gateway computes it.
"""

import argparse
import datetime as _dt
import json
import re
import secrets
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

ALGORITHM = "SDK-HMAC-SHA256"
AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256 Access=(?P<ak>[^,]*), SignedHeaders=(?P<signed>[^,]*), Signature=(?P<sig>[0-9a-f]+)$"
)
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SUCCESS_BODY = {"error_code": 0, "error_description": "success"}
MSG_PREFIX = "Incorrect IAM authentication information: "


class Rejection(Exception):
    """Raised to reject a request; ``message`` is the APIG error_msg tail, ``reason`` the log reason."""

    def __init__(self, reason, message=None, canonical_request=None):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.canonical_request = canonical_request


def latin1_to_utf8(value):
    """http.server decodes header bytes as latin-1; get the UTF-8 text back (lossless for valid UTF-8)."""
    raw = value.encode("latin-1", errors="replace")
    return raw.decode("utf-8", errors="replace")


def parse_query(raw_query):
    """Split a raw query string the way the verifier rebuilds query_params for the SDK."""
    pairs = []
    if not raw_query:
        return pairs
    for part in raw_query.split("&"):
        if part == "":
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def sdk_sign(ak, sk, method, host, resource_path, query_params, header_params, body):
    """Run the official SDK Signer step by step and return (signed_headers, canonical_request, authorization).

    The steps are those of ``Signer.sign`` in the same order, so the canonical request returned is
    exactly the one the SDK hashes; the Authorization is checked against ``Signer.sign`` itself.
    """
    signer = Signer(BasicCredentials(ak, sk))
    request = SdkRequest(method=method, schema="http", host=host, resource_path=resource_path,
                         query_params=list(query_params), header_params=dict(header_params),
                         body=body if body else None)
    signer._process_content_header(request)
    t = signer._process_header_time(request)
    signer._process_header_host(request)
    signed_headers = signer._process_signed_headers(request)
    canonical_request = signer._process_canonical_request(request, signed_headers)
    string_to_sign = signer._process_string_to_sign(canonical_request, t)
    signature = signer._sign_string_to_sign(string_to_sign, sk)
    authorization = signer._process_auth_header_value(signature, ak, signed_headers)

    check = SdkRequest(method=method, schema="http", host=host, resource_path=resource_path,
                       query_params=list(query_params), header_params=dict(header_params),
                       body=body if body else None)
    signer.sign(check)
    if check.header_params["Authorization"] != authorization:
        raise AssertionError("step-by-step signing disagrees with Signer.sign")
    return ";".join(signed_headers), canonical_request, authorization


def verify(method, target, headers, body, ak, sk, security_token=None, max_skew_seconds=None, now=None):
    """Verify one received request.

    ``headers`` is the list of (name, value) as received, values as UTF-8 text; ``body`` bytes.
    Returns (verdict, reason, message, canonical_request): verdict is "accepted" or "rejected",
    ``reason`` a short text for the log, ``message`` the tail of the APIG error_msg (None when
    accepted), ``canonical_request`` the one the SDK computed (None when verification stopped before it).
    """
    try:
        canonical_request = _verify(method, target, headers, body, ak, sk, security_token, max_skew_seconds, now)
        return "accepted", "signature verified", None, canonical_request
    except Rejection as r:
        message = r.message
        if message is None:
            message = "verify aksk signature fail, canonicalRequest:" + (r.canonical_request or "")
        return "rejected", r.reason, message, r.canonical_request
    except Exception as e:  # never crash on garbage input
        reason = "internal error while verifying: %s: %s" % (type(e).__name__, e)
        return "rejected", reason, "verify aksk signature fail, canonicalRequest:", None


def _find_headers(headers, name):
    lname = name.lower()
    return [v for (k, v) in headers if k.lower() == lname]


def _verify(method, target, headers, body, ak, sk, security_token, max_skew_seconds, now):
    auths = _find_headers(headers, "Authorization")
    if not auths:
        raise Rejection("missing Authorization header", message="x-auth-token not found")
    if len(auths) > 1:
        raise Rejection("more than one Authorization header")
    m = AUTH_RE.match(auths[0])
    if not m:
        raise Rejection("malformed Authorization header (expected '%s Access=AK, SignedHeaders=a;b, "
                        "Signature=hex'): %r" % (ALGORITHM, auths[0]))
    if m.group("ak") != ak:
        raise Rejection("unknown AK %r" % m.group("ak"),
                        message="Get secretKey failed,ak:******,err:ak not exist")
    signed = m.group("signed").split(";")
    if "" in signed:
        raise Rejection("empty name in SignedHeaders %r" % m.group("signed"))
    if "x-sdk-date" not in signed:
        raise Rejection("x-sdk-date is not among SignedHeaders %r" % m.group("signed"))

    hosts = _find_headers(headers, "Host")
    if len(hosts) != 1:
        raise Rejection("expected exactly one Host header, got %d" % len(hosts))
    host = hosts[0]

    header_params = {}
    for name in signed:
        values = _find_headers(headers, name)
        if not values:
            raise Rejection("signed header %r is missing from the request" % name)
        if len(values) > 1:
            raise Rejection("signed header %r occurs %d times" % (name, len(values)))
        if name in header_params:
            raise Rejection("header %r listed twice in SignedHeaders" % name)
        header_params[name] = values[0]

    tokens = _find_headers(headers, "X-Security-Token")
    if security_token is not None:
        if not tokens:
            raise Rejection("missing X-Security-Token (temporary AK/SK needs it)")
        if len(tokens) > 1 or tokens[0] != security_token:
            raise Rejection("X-Security-Token does not match")
        if "x-security-token" not in signed:
            raise Rejection("X-Security-Token is not among SignedHeaders")
    elif tokens:
        raise Rejection("X-Security-Token sent, but this AK is permanent (no --security-token)")

    date = header_params["x-sdk-date"]
    try:
        signed_at = _dt.datetime.strptime(date, DATE_FORMAT)
    except ValueError:
        raise Rejection("malformed X-Sdk-Date %r (expected YYYYMMDDTHHMMSSZ)" % date)
    if max_skew_seconds is not None:
        current = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        skew = abs((current - signed_at).total_seconds())
        if skew > max_skew_seconds:
            raise Rejection("X-Sdk-Date %s is %d s away from server time %s (max %d s)"
                            % (date, skew, current.strftime(DATE_FORMAT), max_skew_seconds))

    path, _, raw_query = target.partition("?")
    if not path.startswith("/"):
        raise Rejection("request target %r is not in origin form" % target)
    query_params = parse_query(raw_query)

    signed_headers, canonical_request, expected = sdk_sign(
        ak, sk, method, host, path, query_params, header_params, body)
    if expected != auths[0]:
        if signed_headers != m.group("signed"):
            reason = "SignedHeaders mismatch: received %r, SDK computes %r" % (m.group("signed"), signed_headers)
        else:
            reason = "signature mismatch"
        raise Rejection(reason, canonical_request=canonical_request)
    return canonical_request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hss-oracle-verify"

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # keep stdout to the one "listening" line
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te and te.lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n)

    def _handle(self):
        cfg = self.server.oracle
        request_id = secrets.token_hex(16)
        headers = [(k, latin1_to_utf8(v)) for (k, v) in self.headers.items()]
        body = b""
        try:
            body = self._read_body()
        except Exception as e:
            verdict, reason, message, canonical = (
                "rejected", "unreadable body: %s: %s" % (type(e).__name__, e),
                "verify aksk signature fail, canonicalRequest:", None)
            self.close_connection = True
        else:
            verdict, reason, message, canonical = verify(
                self.command, self.path, headers, body, cfg.ak, cfg.sk, cfg.security_token,
                cfg.max_skew_seconds)

        if verdict == "accepted":
            status, payload = 200, SUCCESS_BODY
        else:
            status = 401
            payload = {"error_code": "APIG.0301", "error_msg": MSG_PREFIX + message, "request_id": request_id}
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

        record = {
            "verdict": verdict,
            "reason": reason,
            "request_id": request_id,
            "method": self.command,
            "target": self.path,
            "headers": [[k, v] for (k, v) in headers],
            "body": body.decode("utf-8", errors="replace"),
            "canonical_request": canonical,
        }
        with cfg.log_lock:
            with open(cfg.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", request_id)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _Config:
    def __init__(self, args):
        self.ak = args.ak
        self.sk = args.sk
        self.security_token = args.security_token
        self.max_skew_seconds = args.max_skew_seconds
        self.log = args.log
        self.log_lock = threading.Lock()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local AK/SK (SDK-HMAC-SHA256) verifying server")
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--security-token", default=None,
                        help="require this X-Security-Token (signed); without it a token is rejected")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--max-skew-seconds", type=int, default=None,
                        help="also reject X-Sdk-Date further than this from now (default: no check)")
    parser.add_argument("--log", required=True, help="append one JSON line per request to this file")
    args = parser.parse_args(argv)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    server.daemon_threads = True
    server.oracle = _Config(args)

    def _stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    sys.stdout.write("listening on 127.0.0.1:%d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
