"""One RunImageSynchronize call with the official Python SDK, as a one-shot script: what
`hss-image-sync sync` is compared with in `cargo xtask bench` (start-up, imports, client, call).

    bench_cli.py ENDPOINT      (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_PROJECT_ID)

Exits 0 and prints the answer when the call succeeded.
"""

import os
import sys

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo  # noqa: E402

credentials = BasicCredentials(os.environ["HUAWEICLOUD_SDK_AK"], os.environ["HUAWEICLOUD_SDK_SK"],
                               os.environ["HUAWEICLOUD_SDK_PROJECT_ID"])
client = HssClient.new_builder().with_credentials(credentials).with_endpoint(sys.argv[1]).build()
response = client.run_image_synchronize(
    RunImageSynchronizeRequest(body=RunImageSynchronizeRequestInfo(image_type="private_image")))
print(response)
sys.exit(0 if response.status_code == 200 and response.error_code == 0 else 1)
