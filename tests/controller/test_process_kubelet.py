"""The operator tests' kubelet: each pod's container runs as a local process with the pod's env."""

from __future__ import annotations

import base64
import sys

from tests.controller.kubelet import Kubelet
from tests.kubeapi.kubelet import Outcome
from tests.kubeapi.manifests import job, job_pods, wait_condition

SCRIPT = """
import os, sys
open(sys.argv[1], "w").write("token=" + os.environ["TOKEN"] + " mode=" + os.environ["MODE"])
print("working"); sys.exit(3)
"""


def test_container_runs_with_env_and_secret_and_reports_like_a_kubelet(kube_api, tmp_path):
    kube_api.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                     "data": {"TOKEN": base64.b64encode(b"s3cr3t").decode()}})  # fmt: skip
    container = {
        "command": [sys.executable, "-c", SCRIPT],
        "args": ["/dev/termination-log"],
        "env": [{"name": "MODE", "value": "test"}],
        "envFrom": [{"secretRef": {"name": "creds"}}],
    }
    with Kubelet(kube_api, tmp_path) as kubelet:
        kube_api.create(job("proc", backoffLimit=0, container=container))
        wait_condition(kube_api, "proc", "Failed", timeout=60)
    (pod,) = job_pods(kube_api, "proc")
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 3 and state["message"] == "token=s3cr3t mode=test"
    assert kubelet.ran == ["proc"] and kubelet.results["proc"][:2] == (3, "working\n")
    status, text, _ = kube_api.http(
        "GET", f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}/log"
    )
    assert status == 200 and text == "working\n"


def test_override_decides_a_pods_outcome_without_running_it(kube_api, tmp_path):
    with Kubelet(kube_api, tmp_path) as kubelet:
        kubelet.override(lambda run: Outcome.oom_killed() if run.name.startswith("big-") else None)
        kube_api.create(job("big", backoffLimit=0, container={"command": ["false"]}))
        wait_condition(kube_api, "big", "Failed", timeout=60)
    (pod,) = job_pods(kube_api, "big")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    assert kubelet.ran == []


def test_paused_kubelet_leaves_pods_pending(kube_api, tmp_path):
    with Kubelet(kube_api, tmp_path) as kubelet:
        kubelet.paused = True
        kube_api.create(job("wait", container={"command": [sys.executable, "-c", "pass"]}))
        (pod,) = kube_api.wait_for(lambda: job_pods(kube_api, "wait"))
        assert pod["status"]["phase"] == "Pending"
        kubelet.paused = False
        wait_condition(kube_api, "wait", "Complete", timeout=60)
    assert kubelet.ran == ["wait"]


INDEX_SCRIPT = """
import os, sys
open(sys.argv[1], "w").write(os.environ["JOB_COMPLETION_INDEX"] + " " + os.environ["POD"]
                             + " " + sys.argv[2])
"""


def test_an_indexed_jobs_process_gets_its_completion_index(kube_api, tmp_path):
    container = {
        "command": [sys.executable, "-c", INDEX_SCRIPT],
        "args": ["/dev/termination-log", "--shard=$(JOB_COMPLETION_INDEX)/3"],
        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
    }
    manifest = job("shards", completionMode="Indexed", completions=3, parallelism=3,
                   container=container)  # fmt: skip
    with Kubelet(kube_api, tmp_path) as kubelet:
        kube_api.create(manifest)
        done = wait_condition(kube_api, "shards", "Complete", timeout=60)
    assert done["status"]["completedIndexes"] == "0-2"
    pods = job_pods(kube_api, "shards")
    messages = {p["status"]["containerStatuses"][0]["state"]["terminated"]["message"] for p in pods}
    index = "batch.kubernetes.io/job-completion-index"
    expected = set()
    for pod in pods:
        ix = pod["metadata"]["annotations"][index]
        expected.add(f"{ix} {pod['metadata']['name']} --shard={ix}/3")  # args: $(VAR) expanded
    assert messages == expected
    assert {m.split()[0] for m in messages} == {"0", "1", "2"}
    assert sorted(kubelet.pod_results) == sorted(p["metadata"]["name"] for p in pods)
