#!/usr/bin/env python3
"""The official Huawei Cloud Python SDK's credential providers and IAM project discovery against the
emulator's identity services (run with the oracle venv's python; driven by tests/identity.rs).

    sdk_providers_against_emulator.py CONFIG.json

CONFIG.json (written by the Rust test) names the emulator's endpoint (`http://127.0.0.1:PORT`), its
project, demo AK/SK, and what its identity services accept: OIDC provider and agency URNs and id token
(also in a file), the federated login's identity provider and id-token file, the pod-identity token file,
a path for a profile file, a region where IAM lists several projects and one where it lists none.

Every endpoint is overridden as CREDENTIALS.md section 12 describes: HUAWEICLOUD_SDK_STS_ENDPOINT,
HUAWEICLOUD_SDK_IAM_ENDPOINT (or the profile's iam_endpoint), HC_CONTAINER_CREDENTIALS_FULL_URI, and the
class attribute MetadataAccessor._METADATA_ENDPOINT patched in this process; HSS is Region(id, endpoint).
Every connection that is not to loopback is refused in this process (socket.connect and getaddrinfo are
wrapped), so a forgotten variable fails a check instead of reaching the cloud or 169.254.169.254.

Checks, each comparing the emulator's call counters (GET /_emulator/identity) before and after:
  * OIDC (id token, and token file): one STS call, one IAM listing, the project found, a sync accepted;
    with HUAWEICLOUD_OIDC_DURATION_SECONDS=2395 the SDK fetches again before every signed request, with
    2405 it reuses the keys (its 40-minute threshold against the lifetime the emulator gave);
  * federated login through IAM, from the environment and from a profile file with iam_endpoint;
  * CCE pod identity and the ECS metadata service (fetched at provider time);
  * the provider chain with OIDC, federated and pod identity all configured takes OIDC;
  * permanent keys: discovery finds the project; a region with no project and one with several give
    the SDK's SdkException messages with the X-IAM-Trace-Id.
Prints one line per check and ends with "N passed, M failed"; exits non-zero if any check failed.
"""

import http.client
import json
import os
import socket
import sys
from urllib.parse import urlparse

ALLOWED_HOSTS = {"127.0.0.1", "localhost", "::1"}


def block_non_loopback():
    """Refuse, in this process, every connection and name lookup that is not loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ALLOWED_HOSTS:
            raise OSError("blocked: not a loopback address: %r" % (address,))

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in ALLOWED_HOSTS:
            raise socket.gaierror("blocked: lookup of a non-loopback name: %r" % (name,))
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo


block_non_loopback()
for name in list(os.environ):
    if name.startswith(("HUAWEICLOUD_", "HC_CONTAINER_")) or name.lower().endswith("_proxy"):
        del os.environ[name]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials  # noqa: E402
from huaweicloudsdkcore.auth.internal import MetadataAccessor  # noqa: E402
from huaweicloudsdkcore.auth.provider import (  # noqa: E402
    CredentialProviderChain,
    EnvCredentialProvider,
    MetadataCredentialProvider,
    OidcStsCredentialProvider,
    PodIdentityCredentialProvider,
    ProfileCredentialProvider,
)
from huaweicloudsdkcore.exceptions.exceptions import SdkException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.region.region import Region  # noqa: E402
from huaweicloudsdkhss.v5 import HssClient, RunImageSynchronizeRequest, RunImageSynchronizeRequestInfo  # noqa: E402

PASSED = 0
FAILED = 0
COUNTERS = ("iam_projects", "iam_id_token_login", "iam_security_tokens", "sts_assume_with_oidc",
            "metadata_token", "metadata_security_key", "pod_identity", "credentials_issued")


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   %s" % name)
    else:
        FAILED += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()


class Emulator:
    def __init__(self, config):
        self.config = config
        self.endpoint = config["endpoint"]
        parsed = urlparse(self.endpoint)
        if parsed.scheme != "http" or parsed.hostname not in ALLOWED_HOSTS or not parsed.port:
            raise SystemExit("endpoint must look like http://127.0.0.1:PORT, got %r" % self.endpoint)
        self.host, self.port = parsed.hostname, parsed.port

    def counters(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/_emulator/identity")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()


def environment(variables):
    """Exactly these HUAWEICLOUD_*/HC_CONTAINER_* variables, and a fresh project-id cache."""
    for name in list(os.environ):
        if name.startswith(("HUAWEICLOUD_", "HC_CONTAINER_")):
            del os.environ[name]
    os.environ.update(variables)
    # The SDK caches discovered project ids process-wide; each check starts without them.
    with Credentials._LOCK:
        Credentials._CACHE.clear()


def build(emu, credentials, region_id="cn-north-4"):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    return HssClient.new_builder().with_http_config(config).with_credentials(credentials) \
        .with_region(Region(region_id, emu.endpoint)).build()


def synchronize(client):
    request = RunImageSynchronizeRequest(body=RunImageSynchronizeRequestInfo(image_type="private_image"))
    response = client.run_image_synchronize(request)
    return response.status_code == 200 and response.error_code == 0


def scenario(emu, name, variables, get_credentials, expected, syncs=1):
    """Credentials from a provider, a client built for cn-north-4 (IAM discovery), `syncs` accepted
    synchronizations; the emulator's counters must have moved by exactly `expected`."""
    environment(variables)
    before = emu.counters()
    detail = ""
    try:
        credentials = get_credentials()
        client = build(emu, credentials)
        ok = credentials.project_id == emu.config["project_id"]
        detail = "project %r" % credentials.project_id
        for _ in range(syncs):
            ok = synchronize(client) and ok
        ok = ok and credentials.ak != emu.config["ak"] and bool(credentials.security_token)
    except Exception as e:  # noqa: BLE001 - any failure is a failed check, with its text
        ok = False
        detail = "%s: %s" % (type(e).__name__, e)
    after = emu.counters()
    moved = {k: after[k] - before[k] for k in COUNTERS if after[k] != before[k]}
    check(name, ok and moved == expected, "%s; calls %s, expected %s" % (detail, moved, expected))


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    emu = Emulator(config)
    endpoint = emu.endpoint

    # The block works: the metadata address and a cloud host are refused here.
    for target in [("169.254.169.254", 80), ("iam.cn-north-4.myhuaweicloud.com", 443)]:
        try:
            socket.create_connection(target, timeout=1).close()
            check("non-loopback connection to %s is blocked" % target[0], False, "it connected")
        except OSError as e:
            check("non-loopback connection to %s is blocked" % target[0], "blocked" in str(e), str(e))

    oidc = {
        "HUAWEICLOUD_OIDC_PROVIDER_URN": config["provider_urn"],
        "HUAWEICLOUD_OIDC_AGENCY_URN": config["agency_urn"],
        "HUAWEICLOUD_SDK_STS_ENDPOINT": endpoint,
        "HUAWEICLOUD_SDK_IAM_ENDPOINT": endpoint,
    }
    sts_once = {"sts_assume_with_oidc": 1, "iam_projects": 1, "credentials_issued": 1}
    scenario(emu, "oidc: id token from HUAWEICLOUD_OIDC_ID_TOKEN",
             dict(oidc, HUAWEICLOUD_OIDC_ID_TOKEN=config["oidc_token"]),
             lambda: OidcStsCredentialProvider.get_basic().get_credentials(), sts_once, syncs=2)
    scenario(emu, "oidc: id token from HUAWEICLOUD_OIDC_TOKEN_FILE",
             dict(oidc, HUAWEICLOUD_OIDC_TOKEN_FILE=config["oidc_token_file"]),
             lambda: OidcStsCredentialProvider.get_basic().get_credentials(), sts_once)
    # 2395 s left is under the SDK's 40-minute threshold: fetched before the IAM call and each sync.
    scenario(emu, "oidc: keys living 2395 s are fetched again before every request",
             dict(oidc, HUAWEICLOUD_OIDC_ID_TOKEN=config["oidc_token"], HUAWEICLOUD_OIDC_DURATION_SECONDS="2395"),
             lambda: OidcStsCredentialProvider.get_basic().get_credentials(),
             {"sts_assume_with_oidc": 3, "iam_projects": 1, "credentials_issued": 3}, syncs=2)
    scenario(emu, "oidc: keys living 2405 s are reused",
             dict(oidc, HUAWEICLOUD_OIDC_ID_TOKEN=config["oidc_token"], HUAWEICLOUD_OIDC_DURATION_SECONDS="2405"),
             lambda: OidcStsCredentialProvider.get_basic().get_credentials(), sts_once, syncs=2)

    federated = {"iam_id_token_login": 1, "iam_security_tokens": 1, "iam_projects": 1, "credentials_issued": 1}
    scenario(emu, "federated login (environment: HUAWEICLOUD_SDK_IDP_ID + ID_TOKEN_FILE)",
             {"HUAWEICLOUD_SDK_IDP_ID": config["idp_id"],
              "HUAWEICLOUD_SDK_ID_TOKEN_FILE": config["federated_token_file"],
              "HUAWEICLOUD_SDK_IAM_ENDPOINT": endpoint},
             lambda: EnvCredentialProvider.get_basic().get_credentials(), federated, syncs=2)
    with open(config["profile_file"], "w", encoding="utf-8") as f:
        f.write("[basic]\nidp_id = %s\nid_token_file = %s\niam_endpoint = %s\n"
                % (config["idp_id"], config["federated_token_file"], endpoint))
    scenario(emu, "federated login (profile file with iam_endpoint)",
             {"HUAWEICLOUD_SDK_CREDENTIALS_FILE": config["profile_file"]},
             lambda: ProfileCredentialProvider.get_basic().get_credentials(), federated)

    pod = {
        "HC_CONTAINER_CREDENTIALS_FULL_URI": endpoint + "/pod-identity/credentials",
        "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE": config["pod_token_file"],
        "HUAWEICLOUD_SDK_IAM_ENDPOINT": endpoint,
    }
    scenario(emu, "pod identity", pod, lambda: PodIdentityCredentialProvider.get_basic().get_credentials(),
             {"pod_identity": 1, "iam_projects": 1, "credentials_issued": 1}, syncs=2)

    MetadataAccessor._METADATA_ENDPOINT = endpoint
    scenario(emu, "ECS metadata (session token, then the security key)", {"HUAWEICLOUD_SDK_IAM_ENDPOINT": endpoint},
             lambda: MetadataCredentialProvider.get_basic().get_credentials(),
             {"metadata_token": 1, "metadata_security_key": 1, "iam_projects": 1, "credentials_issued": 1}, syncs=2)

    everything = dict(oidc, HUAWEICLOUD_OIDC_ID_TOKEN=config["oidc_token"],
                      HUAWEICLOUD_SDK_IDP_ID=config["idp_id"],
                      HUAWEICLOUD_SDK_ID_TOKEN_FILE=config["federated_token_file"], **pod)
    scenario(emu, "provider chain with OIDC, federated and pod identity configured takes OIDC", everything,
             lambda: CredentialProviderChain.get_basic().get_credentials(), sts_once)

    # Permanent keys: discovery with the same signature checks as API calls.
    environment({"HUAWEICLOUD_SDK_IAM_ENDPOINT": endpoint})
    before = emu.counters()
    try:
        credentials = BasicCredentials(config["ak"], config["sk"])
        client = build(emu, credentials)
        ok = credentials.project_id == config["project_id"] and synchronize(client)
        detail = "project %r" % credentials.project_id
    except Exception as e:  # noqa: BLE001
        ok, detail = False, "%s: %s" % (type(e).__name__, e)
    check("permanent keys: IAM discovery finds the project", ok
          and emu.counters()["iam_projects"] - before["iam_projects"] == 1, detail)

    def discovery_error(region_id):
        try:
            build(emu, BasicCredentials(config["ak"], config["sk"]), region_id)
            return "no error"
        except SdkException as e:
            return str(e)
        except Exception as e:  # noqa: BLE001
            return "%s: %s" % (type(e).__name__, e)

    message = discovery_error(config["empty_region"])
    check("IAM with no project: the SDK's error with the trace id",
          ("Failed to get project id of region '%s', X-IAM-Trace-Id=" % config["empty_region"] in message)
          and "X-IAM-Trace-Id=None" not in message, message)
    message = discovery_error(config["several_region"])
    check("IAM with several projects: the SDK's error lists them",
          ("Multiple project ids found: [%s], X-IAM-Trace-Id=" % ",".join(config["several_ids"]) in message)
          and "X-IAM-Trace-Id=None" not in message, message)

    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
