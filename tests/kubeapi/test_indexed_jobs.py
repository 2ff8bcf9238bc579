"""Indexed Jobs in the Job controller stand-in: one pod per index, the index in the pod's
annotation/label/hostname/env, completedIndexes, backoffLimitPerIndex, FailIndex, and the
validation the real API server does for them."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from .indexedjobs import FAILURE_COUNT_KEY, INDEX_KEY
from .indexes import format_indexes, parse_indexes
from .kubelet import Outcome, PodRun
from .manifests import condition, job, job_pods, wait_condition
from .server import KubeAPIServer
from .validation import ApiError


def index_of(pod: dict[str, Any]) -> int:
    return int(pod["metadata"]["annotations"][INDEX_KEY])


def pods_of_index(server: KubeAPIServer, name: str, index: int) -> list[dict[str, Any]]:
    pods = [p for p in job_pods(server, name) if index_of(p) == index]
    return sorted(pods, key=lambda p: int(p["metadata"]["resourceVersion"]))


def indexed(name: str, completions: int, parallelism: int, **spec: Any) -> dict[str, Any]:
    return job(
        name, completionMode="Indexed", completions=completions, parallelism=parallelism, **spec
    )


def fail_index(failing: int, exit_code: int = 1) -> Any:
    """A behaviour: the pods of index ``failing`` exit ``exit_code``, the others succeed."""
    return lambda run: Outcome(exit_code=exit_code if index_of(run.pod) == failing else 0)


@pytest.mark.parametrize(
    ("indexes", "text"),
    [(set(), ""), ({3}, "3"), ({1, 2}, "1,2"), ({0, 1, 2, 4, 6, 7}, "0-2,4,6,7"),
     ({5, 0, 9, 8, 7, 1}, "0,1,5,7-9")],
)  # fmt: skip
def test_completed_indexes_use_the_compressed_interval_format(indexes: set[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == indexes


def test_parsing_indexes_cuts_at_completions_and_skips_corrupt_intervals() -> None:
    assert parse_indexes("0-5", 3) == {0, 1, 2}
    assert parse_indexes("1,x-3,4,9", 5) == {1, 4}


@pytest.mark.parametrize(("version", "labelled"), [("1.33", True), ("1.27", False)])
def test_each_index_gets_one_pod_with_its_index_hostname_and_env(version: str, labelled: bool) -> None:  # fmt: skip
    gate = threading.Event()
    with KubeAPIServer(server_version=version, job_controller=True, kubelet=True) as server:
        server.kubelet.behave(lambda run: (run.start(), gate.wait(10), Outcome())[-1])
        server.create(indexed("shard", 3, 3))
        pods = server.wait_for(lambda: len(job_pods(server, "shard")) == 3 and job_pods(server, "shard"))  # fmt: skip
        assert sorted(map(index_of, pods)) == [0, 1, 2]
        source = "labels" if labelled else "annotations"
        for pod in pods:
            ix = index_of(pod)
            assert re.fullmatch(rf"shard-{ix}-[a-z0-9]{{5}}", pod["metadata"]["name"])
            assert pod["metadata"]["generateName"] == f"shard-{ix}-"
            assert pod["spec"]["hostname"] == f"shard-{ix}"
            assert (pod["metadata"]["labels"].get(INDEX_KEY) == str(ix)) is labelled
            assert pod["spec"]["containers"][0]["env"] == [
                {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                    "apiVersion": "v1", "fieldPath": f"metadata.{source}['{INDEX_KEY}']"}}}
            ]  # fmt: skip
            assert FAILURE_COUNT_KEY not in pod["metadata"]["annotations"]
        gate.set()
        done = wait_condition(server, "shard", "Complete")
    assert done["status"]["completedIndexes"] == "0-2" and done["status"]["succeeded"] == 3
    assert "failedIndexes" not in done["status"]


def test_parallelism_bounds_the_pods_and_a_succeeded_index_is_never_rerun(
    kube_cluster: KubeAPIServer,
) -> None:
    gate = threading.Event()
    runs: list[int] = []
    lock = threading.Lock()

    def behaviour(run: PodRun) -> Outcome:
        ix = index_of(run.pod)
        run.start()
        gate.wait(10)
        with lock:
            runs.append(ix)
            first_of_1 = runs.count(1) == 1 and ix == 1
        return Outcome(exit_code=1 if first_of_1 else 0)  # index 1 fails once

    kube_cluster.kubelet.behave(behaviour)
    kube_cluster.create(indexed("four", 4, 2))
    pods = kube_cluster.wait_for(lambda: len(job_pods(kube_cluster, "four")) == 2 and job_pods(kube_cluster, "four"))  # fmt: skip
    assert sorted(map(index_of, pods)) == [0, 1]  # the lowest pending indexes first
    gate.set()
    kube_cluster.wait_for(lambda: (kube_cluster.get("batch", "v1", "jobs", "four", "default")["status"].get("failed") == 1))  # fmt: skip
    kube_cluster.advance_clock(10)  # the Job's pod backoff (no backoffLimitPerIndex)
    done = wait_condition(kube_cluster, "four", "Complete")
    assert sorted(runs) == [0, 1, 1, 2, 3]  # index 1 retried with the same index, no rerun
    assert done["status"]["completedIndexes"] == "0-3" and done["status"]["succeeded"] == 4
    assert done["status"]["failed"] == 1


def test_backoff_limit_per_index_fails_only_the_index_that_failed_too_often(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.kubelet.behave(fail_index(2))
    created = kube_cluster.create(indexed("per", 4, 4, backoffLimitPerIndex=1))
    assert created["spec"]["backoffLimit"] == 2147483647  # defaulted to MaxInt32 with it
    running = kube_cluster.wait_for(lambda: (
        kube_cluster.get("batch", "v1", "jobs", "per", "default")["status"].get("completedIndexes") == "0,1,3"
        and kube_cluster.get("batch", "v1", "jobs", "per", "default")))  # fmt: skip
    # Index 2 failed once: its retry waits out that index's backoff (10 s of cluster time),
    # and the failed pod stays uncounted (finalizer kept) until its replacement exists.
    (first,) = pods_of_index(kube_cluster, "per", 2)
    assert first["status"]["phase"] == "Failed"
    assert first["metadata"]["annotations"][FAILURE_COUNT_KEY] == "0"
    assert running["status"]["failedIndexes"] == "" and "failed" not in running["status"]
    kube_cluster.advance_clock(10)
    failed = wait_condition(kube_cluster, "per", "Failed")
    first, second = pods_of_index(kube_cluster, "per", 2)
    assert second["metadata"]["annotations"][FAILURE_COUNT_KEY] == "1"
    status = failed["status"]
    assert (status["failedIndexes"], status["completedIndexes"]) == ("2", "0,1,3")
    assert status["failed"] == 2 and status["succeeded"] == 3
    assert condition(failed, "Failed")["reason"] == "FailedIndexes"
    assert condition(failed, "Failed")["message"] == "Job has failed indexes"
    assert condition(failed, "FailureTarget")["reason"] == "FailedIndexes"
    assert [len(pods_of_index(kube_cluster, "per", i)) for i in range(4)] == [1, 1, 2, 1]


def test_max_failed_indexes_exceeded_fails_the_job_early(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(fail_index(0))
    kube_cluster.create(indexed("early", 3, 1, backoffLimitPerIndex=0, maxFailedIndexes=0))
    failed = wait_condition(kube_cluster, "early", "Failed")
    assert condition(failed, "Failed")["reason"] == "MaxFailedIndexesExceeded"
    assert condition(failed, "Failed")["message"] == (
        "Job has exceeded the specified maximal number of failed indexes"
    )
    assert failed["status"]["failedIndexes"] == "0" and failed["status"]["failed"] == 1
    assert [index_of(p) for p in job_pods(kube_cluster, "early")] == [0]


def test_fail_index_rule_fails_the_index_without_retrying_it(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(fail_index(1, exit_code=42))
    policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}]}
    kube_cluster.create(indexed("pfp", 3, 3, backoffLimitPerIndex=3, podFailurePolicy=policy))
    failed = wait_condition(kube_cluster, "pfp", "Failed")
    assert (failed["status"]["failedIndexes"], failed["status"]["completedIndexes"]) == ("1", "0,2")
    assert condition(failed, "Failed")["reason"] == "FailedIndexes"
    assert len(pods_of_index(kube_cluster, "pfp", 1)) == 1  # 3 retries allowed, none used


def test_ignored_failures_do_not_use_up_the_index_backoff(kube_cluster: KubeAPIServer) -> None:
    codes = iter([5, 5])
    lock = threading.Lock()

    def behaviour(run: PodRun) -> Outcome:
        with lock:
            return Outcome(exit_code=next(codes, 0) if index_of(run.pod) == 0 else 0)

    kube_cluster.kubelet.behave(behaviour)
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [5]}}]}
    kube_cluster.create(indexed("ign", 2, 2, backoffLimitPerIndex=0, podFailurePolicy=policy))
    kube_cluster.wait_for(lambda: len(pods_of_index(kube_cluster, "ign", 0)) == 2)
    kube_cluster.advance_clock(20)  # the index's backoff counts ignored failures too (10, 20 s)
    done = wait_condition(kube_cluster, "ign", "Complete")
    third = pods_of_index(kube_cluster, "ign", 0)[-1]["metadata"]["annotations"]
    assert (third[FAILURE_COUNT_KEY], third["batch.kubernetes.io/job-index-ignored-failure-count"]) == ("0", "2")  # fmt: skip
    assert done["status"]["completedIndexes"] == "0,1" and done["status"]["failedIndexes"] == ""
    assert "failed" not in done["status"]


def test_on_1_28_backoff_limit_per_index_is_dropped_and_backoff_limit_governs() -> None:
    with KubeAPIServer(server_version="1.28", job_controller=True, kubelet=True) as server:
        server.kubelet.behave(fail_index(2))
        created = server.create(indexed("old", 3, 3, backoffLimitPerIndex=1, backoffLimit=1))
        assert "backoffLimitPerIndex" not in created["spec"]
        server.wait_for(lambda: server.get("batch", "v1", "jobs", "old", "default")["status"].get("failed") == 1)  # fmt: skip
        server.advance_clock(10)  # the Job-wide pod backoff
        failed = wait_condition(server, "old", "Failed")
        retried = pods_of_index(server, "old", 2)
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    assert condition(failed, "FailureTarget") is None  # interim conditions only from 1.31
    assert failed["status"]["failed"] == 2 and "failedIndexes" not in failed["status"]
    assert len(retried) == 2  # the failed index was replaced with the same index
    assert all(FAILURE_COUNT_KEY not in p["metadata"]["annotations"] for p in retried)


def _refused(server: KubeAPIServer, manifest: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as err:
        server.create(manifest)
    assert err.value.code == 422
    return err.value.message


def _spec(template_spec: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    manifest = job("v", **spec)
    manifest["spec"]["template"]["spec"].update(template_spec or {})
    return manifest


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (_spec(completionMode="Indexed", completions=2, maxFailedIndexes=1),
         "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"),
        (_spec(backoffLimitPerIndex=1),
         "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"),
        (_spec(completionMode="Indexed", completions=2, backoffLimitPerIndex=1, maxFailedIndexes=3),
         "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions"),
        (_spec(completionMode="Indexed", completions=2, parallelism=100_001),
         "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when "
         "completion mode is Indexed"),
        (_spec(completionMode="Indexed", completions=100_001, backoffLimitPerIndex=1),
         "spec.maxFailedIndexes: Required value: must be specified when completions is above 100000"),
        (_spec(completionMode="Indexed", completions=200_000, parallelism=20_000,
               backoffLimitPerIndex=1, maxFailedIndexes=10),
         "spec.parallelism: Invalid value: 20000: must be less than or equal to 10000 when "
         "completions are above 100000 and used with backoff limit per index"),
        (_spec(completionMode="Indexed", completions=2, backoffLimitPerIndex=-1),
         "spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0"),
        ({**_spec(completionMode="Indexed", completions=10), "metadata": {"name": "x" * 62}},
         f"metadata.name: Invalid value: \"{'x' * 62}\": will not able to create pod with invalid "
         f"DNS label: {'x' * 62}-9"),
        (_spec(podFailurePolicy={"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}]}),
         'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the '
         "backoffLimitPerIndex to be set"),
        (_spec(podFailurePolicy={"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [3, 1]}}]}),
         "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,1]: must be ordered"),
        (_spec(podFailurePolicy={"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [0]}}]}),
         "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"),
        (_spec(podFailurePolicy={"rules": [{"action": "Count", "onExitCodes": {"containerName": "other", "operator": "In", "values": [1]}}]}),
         'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "other": must be one '
         "of the container or initContainer names in the pod template"),
        (_spec(podFailurePolicy={"rules": [{"action": "Count"}]}),
         "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"),
        (_spec({"restartPolicy": "OnFailure"}, podFailurePolicy={"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}),
         'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
         "podFailurePolicy is specified"),
        (_spec({"containers": [{"name": "main", "image": "busybox", "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}]}]}),
         'spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels"'),
        (_spec({"containers": [{"name": "main", "image": "busybox", "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a b']"}}}]}]}),
         'spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "a b": name part must consist of'),
    ],
)  # fmt: skip
def test_the_server_refuses_what_a_real_one_refuses(
    kube_api: KubeAPIServer, manifest: dict[str, Any], expected: str
) -> None:
    assert expected in _refused(kube_api, manifest)


def test_pod_failure_policy_defaults_condition_status_and_replacement_policy(
    kube_api: KubeAPIServer,
) -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    created = kube_api.create(job("d", podFailurePolicy=policy))
    assert created["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]
    assert created["spec"]["podReplacementPolicy"] == "Failed"
    assert kube_api.create(job("e"))["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"


def test_completions_of_an_indexed_job_change_only_in_tandem_with_parallelism(
    kube_api: KubeAPIServer,
) -> None:
    kube_api.create(indexed("elastic", 2, 2, suspend=True))
    scaled = kube_api.patch("batch", "v1", "jobs", "elastic",
                            {"spec": {"completions": 4, "parallelism": 4}}, "default")  # fmt: skip
    assert (scaled["spec"]["completions"], scaled["spec"]["parallelism"]) == (4, 4)
    with pytest.raises(ApiError) as err:
        kube_api.patch("batch", "v1", "jobs", "elastic", {"spec": {"completions": 5}}, "default")
    assert "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism" in err.value.message  # fmt: skip
    kube_api.create(job("fixed", completions=2, suspend=True))
    with pytest.raises(ApiError) as err:
        kube_api.patch("batch", "v1", "jobs", "fixed",
                       {"spec": {"completions": 3, "parallelism": 3}}, "default")  # fmt: skip
    assert "spec.completions: Invalid value: 3: field is immutable" in err.value.message


def test_a_behaviour_sees_the_env_the_kubelet_would_build(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                         "data": {"region": "eu", "tier": "gold"}})  # fmt: skip
    seen: list[dict[str, str]] = []
    lines: list[tuple[list[str], list[str]]] = []
    kube_cluster.kubelet.behave(
        lambda run: (seen.append(run.env()), lines.append(run.command_line()), Outcome())[-1]
    )
    env = [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['none']"}}},
        {"name": "REGION", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "region"}}},
        {"name": "WHERE", "value": "$(NS)/$(REGION) $$(NS) $(UNSET)"},
    ]
    container = {"env": env, "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                 "command": ["run", "$(NS)"], "args": ["--shard=$(JOB_COMPLETION_INDEX)", "$$(NS)"]}  # fmt: skip
    kube_cluster.create(indexed("envs", 1, 1, container=container,
                                template_meta={"labels": {"app": "drift"}}))  # fmt: skip
    wait_condition(kube_cluster, "envs", "Complete")
    (pod,) = job_pods(kube_cluster, "envs")
    (got,) = seen
    assert got == {"CFG_region": "eu", "CFG_tier": "gold", "POD": pod["metadata"]["name"],
                   "NS": "default", "APP": "drift", "NOTE": "", "REGION": "eu",
                   "WHERE": "default/eu $(NS) $(UNSET)", "JOB_COMPLETION_INDEX": "0"}  # fmt: skip
    assert lines == [(["run", "default"], ["--shard=0", "$(NS)"])]


def test_scaling_an_indexed_job_down_deletes_the_pods_of_dropped_indexes(
    kube_cluster: KubeAPIServer,
) -> None:
    gate = threading.Event()

    def behaviour(run: PodRun) -> Outcome:
        run.start()
        while not (gate.wait(0.05) or run.cancelled.is_set()):
            pass
        return Outcome(exit_code=143 if run.cancelled.is_set() else 0)

    kube_cluster.kubelet.behave(behaviour)
    kube_cluster.create(indexed("elastic", 3, 3))
    kube_cluster.wait_for(lambda: len(job_pods(kube_cluster, "elastic")) == 3)
    kube_cluster.patch("batch", "v1", "jobs", "elastic",
                       {"spec": {"completions": 1, "parallelism": 1}}, "default")  # fmt: skip
    kube_cluster.wait_for(lambda: all(
        p["metadata"].get("deletionTimestamp") or p["status"].get("phase") == "Failed"
        for p in job_pods(kube_cluster, "elastic") if index_of(p) > 0))  # fmt: skip
    deleted = kube_cluster.events("default", involved_name="elastic", reason="SuccessfulDelete")
    assert len(deleted) == 2
    gate.set()
    done = wait_condition(kube_cluster, "elastic", "Complete")
    assert done["status"]["completedIndexes"] == "0" and done["status"]["succeeded"] == 1


def test_suspending_an_indexed_job_keeps_its_completed_indexes(kube_cluster: KubeAPIServer) -> None:
    gate = threading.Event()

    def behaviour(run: PodRun) -> Outcome:
        if index_of(run.pod) == 0:
            return Outcome()
        run.start()
        while not (gate.wait(0.05) or run.cancelled.is_set()):
            pass
        return Outcome(exit_code=143 if run.cancelled.is_set() else 0)

    kube_cluster.kubelet.behave(behaviour)
    kube_cluster.create(indexed("pause", 2, 1))
    kube_cluster.wait_for(lambda: (kube_cluster.get("batch", "v1", "jobs", "pause", "default")["status"].get("completedIndexes") == "0"
                                   and len(pods_of_index(kube_cluster, "pause", 1)) == 1))  # fmt: skip
    kube_cluster.patch("batch", "v1", "jobs", "pause", {"spec": {"suspend": True}}, "default")
    wait_condition(kube_cluster, "pause", "Suspended")
    kube_cluster.wait_for(lambda: pods_of_index(kube_cluster, "pause", 1)[0]["status"].get("phase") == "Failed")  # fmt: skip
    gate.set()
    kube_cluster.patch("batch", "v1", "jobs", "pause", {"spec": {"suspend": False}}, "default")
    kube_cluster.advance_clock(10)  # past any pod backoff: the index is not what is tested
    done = wait_condition(kube_cluster, "pause", "Complete")
    assert done["status"]["completedIndexes"] == "0,1"
    assert [len(pods_of_index(kube_cluster, "pause", i)) for i in (0, 1)] == [1, 2]
