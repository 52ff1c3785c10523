"""The official Python SDK's HssClient against the emulator, for `cargo xtask bench`'s sequential
end-to-end comparison (see BENCHMARKS.md). One client, made once (its requests.Session keeps the
connection alive); each call builds, signs and sends RunImageSynchronize and parses the answer.

    bench_e2e.py ENDPOINT --ak AK --sk SK --project-id ID

Prints `ready` after one checked call, then for each line `python N` on stdin makes N calls and
prints `python <calls per second> <failures>` (a failure: any answer but a successful one).
"""

import argparse
import os
import sys
import time

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo  # noqa: E402


def client(endpoint, ak, sk, project_id):
    config = HttpConfig.get_default_config()
    config.timeout = (10, 30)
    return HssClient.new_builder().with_http_config(config) \
        .with_credentials(BasicCredentials(ak, sk, project_id)).with_endpoint(endpoint).build()


def call(c):
    try:
        response = c.run_image_synchronize(RunImageSynchronizeRequest(
            body=RunImageSynchronizeRequestInfo(image_type="private_image")))
        return response.status_code == 200 and response.error_code == 0
    except Exception:  # noqa: BLE001 - counted as a failure
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--project-id", required=True)
    args = parser.parse_args()
    c = client(args.endpoint, args.ak, args.sk, args.project_id)
    if not call(c):
        print("the first call failed", file=sys.stderr)
        return 1
    print("ready", flush=True)
    for line in sys.stdin:
        kind, n = line.split()
        n = int(n)
        started = time.perf_counter()
        failures = sum(0 if call(c) else 1 for _ in range(n))
        print("%s %.1f %d" % (kind, n / (time.perf_counter() - started), failures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
