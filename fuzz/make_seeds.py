#!/usr/bin/env python3
"""Writes the seed inputs of the three fuzz targets (run from the fuzz/ directory).

The record format is described at the top of src/input.rs: records separated by 0xFF, each a tag
byte and its content; 0xFE separates a pair's key from its value; `B` takes the rest as body.
"""
import calendar
import glob
import json
import os
import time

SEP, KV = b"\xff", b"\xfe"
VECTORS = "../tests/vectors/sdk-hmac-sha256"
PICK = [
    "body-non-ascii-json", "caller-content-sha256-unsigned", "content-type-text-plain",
    "credentials-unusual-characters", "header-name-case-and-order", "header-name-underscore",
    "header-value-unicode-whitespace", "host-explicit-lowercase-header", "method-lowercase-get",
    "path-encoded-slash-project-id", "path-noncanonical-escapes", "path-raw-reserved",
    "path-root", "query-keys-need-encoding", "query-repeated-keys",
    "seed-private-security-token", "x-sdk-date-lowercase", "header-none-clock-time",
]


def rec(tag, content):
    return tag + (content.encode() if isinstance(content, str) else content)


def vector_input(v, with_auth):
    r = v["request"]
    t = calendar.timegm(time.strptime(v["time"], "%Y%m%dT%H%M%SZ"))
    records = [rec(b"M", r["method"]), rec(b"H", r["host"]), rec(b"P", r["path"])]
    records += [rec(b"Q", k.encode() + KV + val.encode()) for k, val in r["query"]]
    records += [rec(b"h", n.encode() + KV + val.encode()) for n, val in r["headers"]]
    records += [rec(b"A", v["credentials"]["ak"]), rec(b"S", v["credentials"]["sk"])]
    records += [rec(b"T", str(t))]
    if with_auth:
        records.append(rec(b"Z", v["expected"]["authorization"]))
        records.append(rec(b"X", b"\x01\x07\x03"))
    return SEP.join(records) + SEP + b"B" + r["body"].encode()


def write(target, name, data):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    with open(f"corpus/{target}/seed-{name}", "wb") as f:
        f.write(data)


for name in PICK:
    v = json.load(open(f"{VECTORS}/{name}.json"))
    write("signer_canonicalization", name, vector_input(v, False))
    write("emulator_verify", name, vector_input(v, True))

# Hand-made edge cases.
write("signer_canonicalization", "time-year-9999",
      SEP.join([b"P/", b"T253402300799.999999999", b"h" + b"X-Sdk-Date" + KV + b"99991231T235959Z"]))
write("signer_canonicalization", "time-before-epoch", SEP.join([b"P/a", b"T-1.5"]))
write("signer_canonicalization", "empty-keys", SEP.join([b"P", b"A", b"S"]))
write("emulator_verify", "segments-and-raw-headers",
      SEP.join([b"Mpost", b"pa/b", b"p\xc3\xa9 ?", b"p", b"Q" + KV, b"Qk" + KV + b"v=&",
                b"hX-A" + KV + b"\t v \xe3\x80\x80", b"hx_b" + KV + b"u",
                b"hcontent-type" + KV + b"text/plain", b"Zgarbage", b"X\x00\x00\x05"]) + SEP + b"B\x00\xff")
# Masking: a refused signature over a signed security token (the 401 text shows the canonical
# request), and sensitive headers given to the signer, one `Authorization` of another spelling.
write("emulator_verify", "refused-signature-with-security-token",
      SEP.join([b"MPOST", b"P/v5/p/image/synchronize", b"hhost" + KV + b"hss.example.com",
                b"hx-security-token" + KV + b"TOKEN-SECRET-1", b"hx-sdk-date" + KV + b"20240315T083530Z",
                b"ZSDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-security-token;x-sdk-date, Signature="
                + b"0" * 64, b"SSK", b"T1710491730"]) + SEP + b"B{}")
write("signer_canonicalization", "authorization-other-spelling-and-tokens",
      SEP.join([b"MPOST", b"P/v5/p/image/synchronize", b"hContent-Type" + KV + b"application/json",
                b"hAuthorizaTion" + KV + b"given-before-signing", b"hX-Security-Token" + KV + b"TOKEN-SECRET-1",
                b"hX-Auth-Token" + KV + b" iam-token "]) + SEP + b"B{}")

errors = {
    "apig-0301": b'{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"8f4e0c1a"}',
    "hss-errorcode": b'{"errorCode":"HSS.0001","errorMsg":"Invalid parameter."}',
    "code-message-encoded": b'{"code":"IAM.0002","message":"denied","encoded_authorization_message":"ZW5j"}',
    "nested-last-wins": b'{"a":{"error_code":"A","error_msg":"first"},"b":[1,{"x":null}],"c":{"d":{"code":"C","message":"last"}}}',
    "falsy-and-scalars": b'{"error_code":0,"error_msg":false,"errorCode":17,"errorMsg":true,"code":1.5e3,"message":[1,"two",{"3":null}]}',
    "duplicate-keys": b'{"error_code":"A","error_msg":"m","error_code":"B"}',
    "html-502": b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\r\n",
    "not-utf8": b'{"error_code":"E","error_msg":"\xff\xfe"}',
    "array": b'[{"error_code":"E","error_msg":"m"}]',
    "unicode-escapes": b'{"error_code":"\\u00e9\\ud83d\\ude00","error_msg":"\\u0000x","encoded_authorization_message":12}',
    "empty": b"",
}
for name, body in errors.items():
    write("error_body", name, body)
