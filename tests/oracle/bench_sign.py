"""The official Python SDK's Signer (SDK-HMAC-SHA256) on the seed request of benches/signing.rs, for
the side-by-side comparison that `cargo xtask bench` runs (see BENCHMARKS.md).

    bench_sign.py            7 rounds of 5,000 signatures, prints the median in ns per signature
    bench_sign.py --serve    prints `signature <hex>`, then for each line `python N` on stdin signs
                             N times and prints `python <ns per signature>`

Fair to the SDK: the Signer is made once (it holds the AK/SK, as our SigningKey does); each
signature gets a fresh copy of the header dict (the Signer adds X-Sdk-Date, Host and Authorization
to it). The time is handed to the signer the way ours gets it: as a time value, not as an
X-Sdk-Date string to parse. The SDK reads it with `datetime.utcnow()` and formats it; here
`utcnow()` returns the benchmark's fixed instant (a cheaper call than the real clock read), so the
signature is the one our signer computes for the same inputs, and the harness checks that it is.
"""

import statistics
import sys
import time
from datetime import datetime

import huaweicloudsdkcore.signer.signer as signer_module
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

AK = "HPUAL8FWGBJPNSCL4E2X"
SK = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo"
# 1_710_491_730 s after the epoch, as in benches/signing.rs.
FIXED = datetime(2024, 3, 15, 8, 35, 30)
HEADERS = {
    "region": "cn-north-4",
    "Content-Type": "application/json",
    "User-Agent": "huaweicloud-usdk-python/3.0; bench",
    "X-Project-Id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
}


class FixedClock(datetime):
    """The SDK's `datetime`, whose utcnow() is the benchmark's instant."""

    @classmethod
    def utcnow(cls):
        return FIXED


signer_module.datetime = FixedClock
signer = Signer(BasicCredentials(AK, SK))
request = SdkRequest(
    method="POST",
    schema="https",
    host="hss.cn-north-4.myhuaweicloud.com",
    resource_path="/v5/0a1b2c3d4e5f60718293a4b5c6d7e8f9/image/synchronize",
    query_params=[("enterprise_project_id", "all_granted_eps")],
    header_params=dict(HEADERS),
    body=b'{"image_type": "private_image"}',
)


def one():
    request.header_params = dict(HEADERS)
    return signer.sign(request)


def run(n):
    started = time.perf_counter_ns()
    for _ in range(n):
        one()
    return (time.perf_counter_ns() - started) / n


def main():
    signed = one()
    signature = signed.header_params["Authorization"].rsplit("Signature=", 1)[1]
    if "--serve" not in sys.argv:
        print("python_sign_ns_per_op %.0f" % statistics.median(run(5000) for _ in range(7)))
        return
    print("signature %s" % signature, flush=True)
    for line in sys.stdin:
        kind, n = line.split()
        print("%s %.1f" % (kind, run(int(n))), flush=True)


if __name__ == "__main__":
    main()
