#!/usr/bin/env python3
"""The official SDK's four successor operations against the HSS emulator (run with the oracle venv's python).

    sdk_successor_against_emulator.py ENDPOINT --ak AK --sk SK [--failing-registry ID] [--task-seconds N]

ENDPOINT is what `hss-image-sync emulator` printed (`http://127.0.0.1:PORT`); AK/SK are the ones it was started
with. --failing-registry names the registry the emulator was told to fail (`--fail-registry ID`), --task-seconds
how long its tasks run (`--task-seconds N`, 1 or more; the script waits at most 10 s more than that for a task).

HssClient (the SDK builds, signs and sends every request; SDK-HMAC-SHA256) calls ListRegistry,
CreateImageSynchronizeTask, ListImageScanTask (type image_sync) and ListAssociateRegistries. The emulator
verifies every signature (no call may get a 401) and the SDK's response models parse every answer. Checks:
  * ListRegistry lists registries with ids, names and types; its filters (registry_type, one or a comma list,
    registry_name, registry_id, status) and offset/limit select what they say, total_num counts them all;
  * CreateImageSynchronizeTask answers 200 with every registry (with a region header and enterprise project)
    and with a registry_info list; the task then appears in ListImageScanTask as `manualSync` with a
    begin_time no earlier than the time before the call, an integer task_status, newest first;
    ListAssociateRegistries lists exactly the task's registries; its filters and offset/limit work;
  * the task ends: task_status 100 (or -3/-1 as documented), end_time set, the failing registry `failed` with a
    failed_reason and every other one `finished`;
  * invalid parameters (limit 5 or 201, an unknown type, an unknown task, sync_all_registries false without
    registry_info, an unknown registry or a wrong registry type) get 400 HSS.0001 as ClientRequestException
    with a request id; a task_id needing percent-encoding (`a/b c`) is signed right (400 for the unknown task,
    not 401);
  * every response carries X-Request-Id and Date, and the ids are unique.
Prints one line per check and ends with "N passed, M failed"; exits non-zero if any check failed.
"""

import argparse
import os
import sys
import time
from urllib.parse import urlparse

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.http.http_handler import HttpHandler  # noqa: E402
from huaweicloudsdkhss.v5 import (  # noqa: E402
    CreateImageSynchronizeTaskRequest, CreateImageSynchronizeTaskRequestInfo,
    CreateImageSynchronizeTaskRequestInfoRegistryInfo, HssClient, ListAssociateRegistriesRequest,
    ListImageScanTaskRequest, ListRegistryRequest)

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REGISTRY_TYPES = {"SwrPrivate", "SwrShared", "SwrEnterprise", "Harbor", "Jfrog", "Other"}
# Milliseconds the emulator's clock may be behind ours when it stamps a task's begin_time.
CLOCK_SLACK_MS = 2000

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


class Sdk:
    """One HssClient for the whole run; remembers each response's status and headers."""

    def __init__(self, endpoint, ak, sk):
        parsed = urlparse(endpoint)
        if parsed.scheme != "http" or parsed.hostname != "127.0.0.1" or not parsed.port:
            raise SystemExit("ENDPOINT must look like http://127.0.0.1:PORT, got %r" % endpoint)
        config = HttpConfig.get_default_config()
        config.user_agent = "sdk-successor-against-emulator"
        config.timeout = (10, 30)  # connect, read (seconds)
        self.seen = []
        handler = HttpHandler().add_response_handler(lambda **kw: self.seen.append(kw["response"]))
        self.client = HssClient.new_builder() \
            .with_http_config(config) \
            .with_credentials(BasicCredentials(ak, sk, PROJECT_ID)) \
            .with_endpoint(endpoint) \
            .with_http_handler(handler) \
            .build()

    def call(self, name, operation, request):
        """The SDK's answer, or the ClientRequestException; any other failure is a failed check (None)."""
        before = len(self.seen)
        try:
            answer = getattr(self.client, operation)(request)
        except ClientRequestException as e:
            answer = e
        except Exception as e:  # noqa: BLE001 - a connection error is a failed check, not a crash
            check(name + ": call completes", False, "%s: %s" % (type(e).__name__, e))
            return None
        if len(self.seen) != before + 1:
            check(name + ": exactly one response", False, "%d" % (len(self.seen) - before))
            return None
        r = self.seen[-1]
        RESPONSES.append((name, r.status_code, r.headers.get("X-Request-Id"), r.headers.get("Date")))
        return answer

    def ok(self, name, operation, request):
        """Calls; checks a 200 answer (never an exception); the answer or None."""
        answer = self.call(name, operation, request)
        if answer is None:
            return None
        good = not isinstance(answer, Exception) and answer.status_code == 200
        check(name + ": 200", good, str(answer))
        return answer if good else None

    def refused(self, name, operation, request, status=400, code="HSS.0001"):
        answer = self.call(name, operation, request)
        if answer is None:
            return
        good = isinstance(answer, ClientRequestException) and answer.status_code == status \
            and answer.error_code == code and len(answer.request_id or "") >= 16
        check("%s -> %d %s" % (name, status, code), good, str(answer))


def registries(sdk, name, **params):
    return sdk.ok(name, "list_registry", ListRegistryRequest(**params))


def tasks(sdk, name, **params):
    params.setdefault("type", "image_sync")
    return sdk.ok(name, "list_image_scan_task", ListImageScanTaskRequest(**params))


def associated(sdk, name, task_id, **params):
    return sdk.ok(name, "list_associate_registries", ListAssociateRegistriesRequest(task_id=task_id, **params))


def create(sdk, name, body, **params):
    return sdk.ok(name, "create_image_synchronize_task", CreateImageSynchronizeTaskRequest(body=body, **params))


def ids(items, attribute="id"):
    return [getattr(i, attribute) for i in items or []]


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------
# ListRegistry
# ---------------------------------------------------------------------------------------------

def test_list_registry(sdk):
    """The registries (every page), checked and returned."""
    answer = registries(sdk, "ListRegistry: no parameters")
    if answer is None:
        return []
    items = answer.data_list or []
    check("ListRegistry: registries listed, total_num counts them", len(items) >= 3 and answer.total_num == len(items),
          str(answer))
    check("ListRegistry: each has an id, a name and a known registry_type",
          all(r.id and r.registry_name and r.registry_type in REGISTRY_TYPES for r in items), str(items))
    check("ListRegistry: ids are unique", len(set(ids(items))) == len(items), str(ids(items)))
    check("ListRegistry: images_num and status parsed", all(isinstance(r.images_num, int) and r.status for r in items),
          str(items))
    first = items[0]

    one_type = registries(sdk, "ListRegistry: registry_type %s" % first.registry_type,
                          registry_type=first.registry_type)
    if one_type is not None:
        want = [r.id for r in items if r.registry_type == first.registry_type]
        check("ListRegistry: registry_type selects exactly that type", ids(one_type.data_list) == want
              and one_type.total_num == len(want), str(one_type))
    kinds = sorted({r.registry_type for r in items})[:2]
    two_types = registries(sdk, "ListRegistry: registry_type comma list", registry_type=",".join(kinds),
                           enterprise_project_id="all_granted_eps")
    if two_types is not None:
        want = [r.id for r in items if r.registry_type in kinds]
        check("ListRegistry: a comma list of types selects each", ids(two_types.data_list) == want, str(two_types))
    by_id = registries(sdk, "ListRegistry: registry_id", registry_id=first.id, enterprise_project_id="0")
    if by_id is not None:
        check("ListRegistry: registry_id selects that registry", ids(by_id.data_list) == [first.id], str(by_id))
    fragment = first.registry_name[1:-1] or first.registry_name
    by_name = registries(sdk, "ListRegistry: registry_name fragment %r" % fragment, registry_name=fragment)
    if by_name is not None:
        want = [r.id for r in items if fragment in r.registry_name]
        check("ListRegistry: registry_name matches fuzzily", first.id in ids(by_name.data_list)
              and ids(by_name.data_list) == want, str(by_name))
    by_status = registries(sdk, "ListRegistry: status fail", status="fail")
    if by_status is not None:
        want = [r.id for r in items if r.status == "fail"]
        check("ListRegistry: status selects", ids(by_status.data_list) == want, str(by_status))
    page = registries(sdk, "ListRegistry: offset 1 limit 10", offset=1, limit=10)
    if page is not None:
        check("ListRegistry: offset skips, total_num counts every match",
              ids(page.data_list) == ids(items)[1:11] and page.total_num == len(items), str(page))
    past = registries(sdk, "ListRegistry: offset past the end", offset=len(items), limit=10)
    if past is not None:
        # An empty page still carries `data_list`, so SDK users can iterate it as they would any page.
        check("ListRegistry: past the end an empty page", past.data_list == [] and past.total_num == len(items),
              str(past))
    sdk.refused("ListRegistry: limit 5", "list_registry", ListRegistryRequest(limit=5))
    sdk.refused("ListRegistry: limit 201", "list_registry", ListRegistryRequest(limit=201))
    sdk.refused("ListRegistry: status bogus", "list_registry", ListRegistryRequest(status="bogus"))
    return items


# ---------------------------------------------------------------------------------------------
# CreateImageSynchronizeTask, ListImageScanTask, ListAssociateRegistries
# ---------------------------------------------------------------------------------------------

def new_task(sdk, name, known_ids, body, **params):
    """Creates a task and finds it: the newest manualSync task begun no earlier than just before the call."""
    before = now_ms()
    if create(sdk, name, body, **params) is None:
        return None
    answer = tasks(sdk, name + ": then ListImageScanTask image_sync")
    if answer is None:
        return None
    listed = answer.data_list or []
    fresh = [t for t in listed if t.task_id not in known_ids]
    check(name + ": one new task listed, newest first", len(fresh) == 1 and listed[0].task_id == fresh[0].task_id
          and answer.total_num == len(listed), str(answer))
    if not fresh:
        return None
    task = fresh[0]
    check(name + ": the task is manualSync with begin_time at or after the call",
          task.task_type == "manualSync" and isinstance(task.begin_time, int)
          and task.begin_time >= before - CLOCK_SLACK_MS and task.begin_time <= now_ms() + CLOCK_SLACK_MS,
          "before=%d %s" % (before, task))
    check(name + ": task_status is an integer of 0..100 or -1..-3",
          isinstance(task.task_status, int) and -3 <= task.task_status <= 100, str(task))
    return task


def test_tasks(sdk, items, failing, task_seconds):
    if len(items) < 2:
        check("tasks: ListRegistry gave at least two registries", False, str(items))
        return
    start = tasks(sdk, "ListImageScanTask: before any task")
    known = set(ids(start.data_list if start else [], "task_id"))

    # Every registry, with a region header and an enterprise project.
    every = new_task(sdk, "CreateImageSynchronizeTask: every registry, region, enterprise_project_id 0", known,
                     CreateImageSynchronizeTaskRequestInfo(sync_all_registries=True),
                     region="cn-north-4", enterprise_project_id="0")
    if every is None:
        return
    known.add(every.task_id)
    check("every registry: is_all true, total_num the registry count",
          every.is_all is True and every.total_num == len(items), str(every))
    linked = associated(sdk, "ListAssociateRegistries: the every-registry task", every.task_id)
    if linked is not None:
        check("every registry: ListAssociateRegistries lists every registry with its name and type",
              sorted(ids(linked.data_list, "registry_id")) == sorted(ids(items))
              and linked.total_num == len(items)
              and all(a.registry_type in REGISTRY_TYPES and a.registry_name for a in linked.data_list),
              str(linked))

    # Two registries named in registry_info (one of them the failing one, if any).
    chosen = [r for r in items if r.id == failing][:1] + [r for r in items if r.id != failing][:1]
    info = [CreateImageSynchronizeTaskRequestInfoRegistryInfo(registry_id=r.id, registry_type=r.registry_type)
            for r in chosen]
    named = new_task(sdk, "CreateImageSynchronizeTask: registry_info of two, all_granted_eps", known,
                     CreateImageSynchronizeTaskRequestInfo(sync_all_registries=False, registry_info=info),
                     enterprise_project_id="all_granted_eps")
    if named is None:
        return
    known.add(named.task_id)
    check("registry_info: is_all false, total_num 2", named.is_all is False and named.total_num == 2, str(named))
    linked = associated(sdk, "ListAssociateRegistries: the registry_info task", named.task_id,
                        enterprise_project_id="all_granted_eps")
    if linked is not None:
        check("registry_info: ListAssociateRegistries lists exactly the registries named",
              sorted(ids(linked.data_list, "registry_id")) == sorted(ids(chosen)) and linked.total_num == 2,
              str(linked))
    one = associated(sdk, "ListAssociateRegistries: registry_type filter", named.task_id,
                     registry_type=chosen[1].registry_type)
    if one is not None:
        want = [chosen[1].id] + ([chosen[0].id] if chosen[0].registry_type == chosen[1].registry_type else [])
        check("ListAssociateRegistries: registry_type selects", sorted(ids(one.data_list, "registry_id"))
              == sorted(want), str(one))
    one = associated(sdk, "ListAssociateRegistries: registry_name filter", named.task_id,
                     registry_name=chosen[0].registry_name)
    if one is not None:
        check("ListAssociateRegistries: registry_name selects", chosen[0].id in ids(one.data_list, "registry_id"),
              str(one))
    page = associated(sdk, "ListAssociateRegistries: offset 1 limit 10", named.task_id, offset=1, limit=10)
    if page is not None:
        check("ListAssociateRegistries: offset 1 gives the second of two, total_num 2",
              len(page.data_list or []) == 1 and page.total_num == 2, str(page))

    # ListImageScanTask filters and pages.
    by_id = tasks(sdk, "ListImageScanTask: task_id filter", task_id=every.task_id, enterprise_project_id="0")
    if by_id is not None:
        check("ListImageScanTask: task_id selects that task", ids(by_id.data_list, "task_id") == [every.task_id],
              str(by_id))
    both = {every.task_id, named.task_id}
    page = tasks(sdk, "ListImageScanTask: offset 1 limit 10", offset=1, limit=10, task_type="manualSync")
    if page is not None:
        check("ListImageScanTask: offset 1 skips the newest, total_num counts all",
              ids(page.data_list, "task_id")[:1] == [every.task_id] and page.total_num == len(known), str(page))
    cycle = tasks(sdk, "ListImageScanTask: task_type cycle", task_type="cycle")
    if cycle is not None:
        check("ListImageScanTask: no cycle sync tasks", not cycle.data_list and cycle.total_num == 0, str(cycle))
    scans = tasks(sdk, "ListImageScanTask: type image_scan", type="image_scan")
    if scans is not None:
        check("ListImageScanTask: image_scan lists no sync task",
              not both & set(ids(scans.data_list, "task_id")), str(scans))

    # The tasks end; each registry's outcome.
    deadline = time.monotonic() + task_seconds + 10
    done = None
    while time.monotonic() < deadline:
        answer = tasks(sdk, "ListImageScanTask: task_status finished", task_status="finished")
        if answer is None:
            break
        finished = [t for t in answer.data_list or [] if t.task_id in both]
        if len(finished) == 2:
            done = {t.task_id: t for t in finished}
            break
        time.sleep(0.5)
    check("tasks end within %d s (task_status filter finished)" % (task_seconds + 10), done is not None)
    if done is None:
        return
    for label, task, expected in (("every registry", done[every.task_id], items),
                                  ("registry_info", done[named.task_id], chosen)):
        failed = sum(1 for r in expected if r.id == failing)
        want_status = 100 if failed < len(expected) else -3
        check("%s: ended with task_status %d, end_time set, failed_num %d" % (label, want_status, failed),
              task.task_status == want_status and isinstance(task.end_time, int) and task.end_time >= task.begin_time
              and task.failed_num == failed and task.success_num == len(expected) - failed, str(task))
        linked = associated(sdk, "ListAssociateRegistries: %s task once ended" % label, task.task_id)
        if linked is None:
            continue
        outcome = {a.registry_id: (a.sync_status, a.failed_reason) for a in linked.data_list or []}
        check("%s: the failing registry failed with a reason, every other one finished" % label,
              all((s == "failed" and bool(why)) if rid == failing else (s == "finished" and not why)
                  for rid, (s, why) in outcome.items()) and len(outcome) == len(expected), str(outcome))
        status = "failed" if failed else "finished"
        filtered = associated(sdk, "ListAssociateRegistries: %s sync_status %s" % (label, status), task.task_id,
                              sync_status=status)
        if filtered is not None:
            want = [rid for rid, (s, _) in outcome.items() if s == status]
            check("%s: sync_status selects" % label,
                  sorted(ids(filtered.data_list, "registry_id")) == sorted(want), str(filtered))


def test_invalid(sdk, items):
    sdk.refused("ListImageScanTask: type bogus", "list_image_scan_task", ListImageScanTaskRequest(type="bogus"))
    sdk.refused("ListImageScanTask: limit 201", "list_image_scan_task",
                ListImageScanTaskRequest(type="image_sync", limit=201))
    sdk.refused("ListImageScanTask: no type", "list_image_scan_task", ListImageScanTaskRequest())
    sdk.refused("ListAssociateRegistries: unknown task", "list_associate_registries",
                ListAssociateRegistriesRequest(task_id="00000000-0000-0000-0000-000000000000"))
    sdk.refused("ListAssociateRegistries: task_id 'a/b c' (percent-encoded, signed right, unknown)",
                "list_associate_registries", ListAssociateRegistriesRequest(task_id="a/b c"))
    sdk.refused("ListAssociateRegistries: limit 5", "list_associate_registries",
                ListAssociateRegistriesRequest(task_id="a", limit=5))

    def refused_create(name, sync_all=False, registries=None, **params):
        info = None if registries is None else [
            CreateImageSynchronizeTaskRequestInfoRegistryInfo(registry_id=rid, registry_type=kind)
            for rid, kind in registries]
        body = CreateImageSynchronizeTaskRequestInfo(sync_all_registries=sync_all, registry_info=info)
        sdk.refused("CreateImageSynchronizeTask: " + name, "create_image_synchronize_task",
                    CreateImageSynchronizeTaskRequest(body=body, **params))

    refused_create("sync_all_registries false without registry_info")
    refused_create("an unknown registry", registries=[("no-such-registry", "Harbor")])
    if items:
        other = "Jfrog" if items[0].registry_type != "Jfrog" else "Other"
        refused_create("a registry with the wrong type", registries=[(items[0].id, other)])
    refused_create("registry_type bogus", registries=[("x", "bogus")])
    refused_create("enterprise_project_id of 257 characters", sync_all=True, enterprise_project_id="e" * 257)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("endpoint")
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--failing-registry", default=None)
    parser.add_argument("--task-seconds", type=int, default=2)
    args = parser.parse_args()
    sdk = Sdk(args.endpoint, args.ak, args.sk)
    print("emulator %s" % args.endpoint)

    items = test_list_registry(sdk)
    if args.failing_registry is not None:
        check("the failing registry is listed", args.failing_registry in ids(items), str(ids(items)))
    test_tasks(sdk, items, args.failing_registry, args.task_seconds)
    test_invalid(sdk, items)

    statuses = [status for _, status, _, _ in RESPONSES]
    check("no response is a 401 (every SDK signature accepted)", 401 not in statuses, str(RESPONSES))
    missing = [(name, status) for name, status, rid, date in RESPONSES if not rid or not date]
    check("all %d responses carry X-Request-Id and Date" % len(RESPONSES), RESPONSES and not missing, str(missing))
    request_ids = [rid for _, _, rid, _ in RESPONSES]
    check("request ids are unique", len(set(request_ids)) == len(request_ids), str(request_ids))

    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
