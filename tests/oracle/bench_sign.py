"""Signing throughput of the official Python SDK's Signer (SDK-HMAC-SHA256) on the seed request,
for the side-by-side comparison that `cargo xtask bench` runs (see BENCHMARKS.md).

Prints one line: `python_sign_ns_per_op <median of 7 rounds>`. Each operation builds a fresh
SdkRequest (the signer mutates it) and signs it, as the SDK does per call.
"""

import statistics
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

ROUNDS = 7
PER_ROUND = 5000

signer = Signer(BasicCredentials("HPUAL8FWGBJPNSCL4E2X", "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo"))


def one():
    request = SdkRequest(
        method="POST",
        schema="https",
        host="hss.cn-north-4.myhuaweicloud.com",
        resource_path="/v5/0a1b2c3d4e5f60718293a4b5c6d7e8f9/image/synchronize",
        query_params=[("enterprise_project_id", "all_granted_eps")],
        header_params={
            "region": "cn-north-4",
            "Content-Type": "application/json",
            "User-Agent": "huaweicloud-usdk-python/3.0; bench",
            "X-Project-Id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "X-Sdk-Date": "20240315T083530Z",
        },
        body=b'{"image_type": "private_image"}',
    )
    return signer.sign(request)


rounds = []
for _ in range(ROUNDS):
    started = time.perf_counter_ns()
    for _ in range(PER_ROUND):
        one()
    rounds.append((time.perf_counter_ns() - started) / PER_ROUND)
print("python_sign_ns_per_op %.0f" % statistics.median(rounds))
