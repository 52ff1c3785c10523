#!/usr/bin/env python3
"""Record what the official SDK's HssClient sends for the four successor operations (a test oracle).

Run with the oracle venv's python (see setup_venv.sh), from anywhere:

    <venv>/bin/python tests/oracle/record_successor_vectors.py

Writes tests/vectors/successor/<case>.json, one file per case: HssClient.create_image_synchronize_task,
list_image_scan_task, list_associate_registries or list_registry, given the case's inputs, as captured on
the wire by a local server on the fixed port SUCCESSOR_CASE_PORT (127.0.0.1; outside Linux's ephemeral
range, so tests/successor_vectors.rs can serve on the same port and sign the same Host). The SDK signer's
clock is fixed to TIME for the length of each call, so every file is byte-identical on every run: the
files are rewritten each time and stale ones removed. Each capture is also checked against
verify_server.verify() (the SDK's Signer recomputes the Authorization from what arrived).
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # importing the helpers must not leave __pycache__ in the repo
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import verify_server  # noqa: E402
from record_vectors import (  # noqa: E402
    AK, LONG_TOKEN, PROJECT_ID, REPO_ROOT, SK, TIME, USER_AGENT_SUFFIX, dump_json, fixed_clock, write_if_changed)

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkhss.v5 import (  # noqa: E402
    CreateImageSynchronizeTaskRequest, CreateImageSynchronizeTaskRequestInfo,
    CreateImageSynchronizeTaskRequestInfoRegistryInfo, HssClient, ListAssociateRegistriesRequest,
    ListImageScanTaskRequest, ListRegistryRequest)

OUT_DIR = os.path.join(REPO_ROOT, "tests", "vectors", "successor")

# Must match SUCCESSOR_CASE_PORT in tests/successor_vectors.rs.
SUCCESSOR_CASE_PORT = 28518

# Seconds for any socket operation of the SDK client (connect, read).
TIMEOUT = (5, 10)

SWR_PRIVATE_ID = "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c01"
HARBOR_ID = "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c03"
TASK_ID = "0f4c2d9e-8a7b-4c6d-9e5f-1a2b3c4d5e6f"

# The SDK's request class of each operation.
REQUESTS = {
    "create_image_synchronize_task": CreateImageSynchronizeTaskRequest,
    "list_image_scan_task": ListImageScanTaskRequest,
    "list_associate_registries": ListAssociateRegistriesRequest,
    "list_registry": ListRegistryRequest,
}


def case(name, operation, description, params, body=None, project_id=PROJECT_ID, security_token=None):
    return {"name": name, "operation": operation, "description": description, "params": params, "body": body,
            "project_id": project_id, "security_token": security_token}


def create(name, description, params, body, **kw):
    return case(name, "create_image_synchronize_task", description, params, body, **kw)


def registry(registry_id, registry_type):
    return {"registry_id": registry_id, "registry_type": registry_type}


CASES = [
    # --- CreateImageSynchronizeTask --------------------------------------------------------------
    create("create-all-registries", "Every registry: no enterprise_project_id, no region header.",
           {}, {"sync_all_registries": True}),
    create("create-all-registries-epid-region", "Every registry, enterprise_project_id=0, region header cn-north-4.",
           {"enterprise_project_id": "0", "region": "cn-north-4"}, {"sync_all_registries": True}),
    create("create-registry-list", "Two registries named in registry_info, all_granted_eps, region header.",
           {"enterprise_project_id": "all_granted_eps", "region": "cn-north-4"},
           {"sync_all_registries": False,
            "registry_info": [registry(SWR_PRIVATE_ID, "SwrPrivate"), registry(HARBOR_ID, "Harbor")]}),
    create("create-epid-needs-encoding", "enterprise_project_id 'ep id/1+é' percent-encoded, a non-ASCII region.",
           {"enterprise_project_id": "ep id/1+é", "region": "中国-北京四"},
           {"sync_all_registries": False, "registry_info": [registry("jfrog 1", "Jfrog")]}),
    create("create-security-token", "Temporary AK/SK: X-Security-Token sent and signed.",
           {"region": "cn-north-4"}, {"sync_all_registries": True}, security_token=LONG_TOKEN),

    # --- ListImageScanTask ----------------------------------------------------------------------
    case("tasks-sync-minimal", "list_image_scan_task", "Only the required type=image_sync.",
         {"type": "image_sync"}),
    case("tasks-sync-filters", "list_image_scan_task",
         "image_sync with task_type, task_status, a task_name needing percent-encoding, offset and limit, "
         "enterprise_project_id=0.",
         {"type": "image_sync", "task_type": "manualSync", "task_status": "scanning",
          "task_name": "nightly sync/é+1", "offset": 10, "limit": 50, "enterprise_project_id": "0"}),
    case("tasks-scan-every-filter", "list_image_scan_task",
         "image_scan with every other filter: global_image_type, task_id, create_time, end_time, scan_scope, "
         "the largest limit.",
         {"type": "image_scan", "global_image_type": "registry", "task_id": TASK_ID,
          "create_time": 1710489330000, "end_time": 1710492930000, "scan_scope": 240, "offset": 0, "limit": 200,
          "enterprise_project_id": "all_granted_eps"}),

    # --- ListAssociateRegistries ----------------------------------------------------------------
    case("associate-task-id-encoded", "list_associate_registries",
         "task_id 'a/b c' in the path, quote(safe='')-encoded (a%2Fb%20c; signed with the %2F as a separator).",
         {"task_id": "a/b c"}),
    case("associate-filters", "list_associate_registries",
         "registry_name needing encoding, a comma-separated registry_type, sync_status, offset, limit, "
         "enterprise_project_id=0.",
         {"task_id": TASK_ID, "registry_name": "harbor ci+1", "registry_type": "SwrPrivate,Harbor",
          "sync_status": "failed", "offset": 20, "limit": 10, "enterprise_project_id": "0"}),

    # --- ListRegistry ---------------------------------------------------------------------------
    case("registries-minimal", "list_registry", "No parameters: no query string.", {}),
    case("registries-filters", "list_registry",
         "Every filter, registry_name and registry_addr needing percent-encoding, offset and limit, "
         "enterprise_project_id 'ep id/1+é'.",
         {"registry_name": "swr é&x=y", "registry_id": HARBOR_ID, "registry_type": "Harbor,Jfrog",
          "registry_addr": "https://harbor.example.com:8443/v2", "status": "success", "offset": 100,
          "limit": 100, "enterprise_project_id": "ep id/1+é"}),
    case("registries-project-id-needs-encoding", "list_registry",
         "Project id 'proj id/é+1' quote(safe='')-encoded in the path, raw in X-Project-Id; offset only.",
         {"offset": 30}, project_id="proj id/é+1"),
]


class CaptureHandler(BaseHTTPRequestHandler):
    """Records each request as it arrived; answers 200 with what the operation answers (no body for the
    create call, an empty page for the lists)."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds, per socket operation

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._capture(b'{"data_list": [], "total_num": 0}')

    def do_POST(self):
        self._capture(b"")

    def _capture(self, data):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.captured.append({
            "method": self.command,
            "target": self.path,
            "headers": [[k, verify_server.latin1_to_utf8(v)] for k, v in self.headers.items()],
            "body": body.decode("utf-8"),
        })
        self.send_response(200)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "0" * 32)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def sdk_request(spec):
    params = dict(spec["params"])
    if spec["body"] is not None:
        body = dict(spec["body"])
        if "registry_info" in body:
            body["registry_info"] = [CreateImageSynchronizeTaskRequestInfoRegistryInfo(**r)
                                     for r in body["registry_info"]]
        params["body"] = CreateImageSynchronizeTaskRequestInfo(**body)
    return REQUESTS[spec["operation"]](**params)


def header(headers, name):
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def record_case(spec, server):
    credentials = BasicCredentials(AK, SK, spec["project_id"])
    if spec["security_token"] is not None:
        credentials = credentials.with_security_token(spec["security_token"])
    config = HttpConfig.get_default_config()
    config.user_agent = USER_AGENT_SUFFIX
    config.timeout = TIMEOUT
    client = HssClient.new_builder() \
        .with_http_config(config) \
        .with_credentials(credentials) \
        .with_endpoint("http://127.0.0.1:%d" % SUCCESSOR_CASE_PORT) \
        .build()

    server.captured.clear()
    with fixed_clock(TIME):
        response = getattr(client, spec["operation"])(sdk_request(spec))
    assert response.status_code == 200, (spec["name"], response)
    assert len(server.captured) == 1, spec["name"]
    wire = server.captured[0]

    verdict, reason, _, _ = verify_server.verify(
        wire["method"], wire["target"], wire["headers"], wire["body"].encode("utf-8"), AK, SK,
        security_token=spec["security_token"])
    assert verdict == "accepted", "%s: verify_server rejects the SDK's request: %s" % (spec["name"], reason)
    assert header(wire["headers"], "X-Sdk-Date") == TIME, spec["name"]

    path, _, query = wire["target"].partition("?")
    authorization = header(wire["headers"], "Authorization")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    expected = {
        "method": wire["method"],
        "path": path,
        # As sent (percent-encoded), sorted; and decoded.
        "query": sorted(query.split("&")) if query else [],
        "query_decoded": sorted([unquote(k), unquote(v)] for k, _, v in (p.partition("=") for p in
                                                                          (query.split("&") if query else []))),
        "body": wire["body"],
        "signed_headers": [[name, header(wire["headers"], name)] for name in signed],
        "authorization": authorization,
    }
    inputs = {
        "ak": AK,
        "sk": SK,
        "project_id": spec["project_id"],
        "security_token": spec["security_token"],
        "user_agent": USER_AGENT_SUFFIX,
        "params": spec["params"],
        "body": spec["body"],
    }
    return {"name": spec["name"], "operation": spec["operation"], "description": spec["description"],
            "time": TIME, "inputs": inputs, "expected": expected, "wire": wire}


def main():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    os.makedirs(OUT_DIR, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", SUCCESSOR_CASE_PORT), CaptureHandler)
    server.daemon_threads = True
    server.captured = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    changed = 0
    try:
        for spec in CASES:
            record = record_case(spec, server)
            changed += write_if_changed(os.path.join(OUT_DIR, spec["name"] + ".json"), dump_json(record))
    finally:
        server.shutdown()
        server.server_close()
    for f in sorted(os.listdir(OUT_DIR)):
        if f.endswith(".json") and f[:-5] not in names:
            os.remove(os.path.join(OUT_DIR, f))
            print("removed stale %s" % f)
    print("successor: %d cases, %d file(s) changed" % (len(CASES), changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
