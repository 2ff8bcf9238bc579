"""Pod garbage collection: the terminated-pod threshold, gc_pod, pods whose owner is gone,
and finalizers holding a deleted object."""

from __future__ import annotations

from .manifests import job, job_pods, wait_condition
from .server import KubeAPIServer


def test_terminated_pods_beyond_the_threshold_are_deleted_oldest_first(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.pod_gc.threshold = 2
    names = []
    for i in range(4):
        kube_cluster.create(job(f"run-{i}"))
        wait_condition(kube_cluster, f"run-{i}", "Complete")
        names.append(job_pods(kube_cluster, f"run-{i}")[0]["metadata"]["name"])
        kube_cluster.advance_clock(1)  # distinct creation times
    kube_cluster.wait_for(lambda: len(kube_cluster.objects("", "v1", "pods", "default")) == 2)
    left = {p["metadata"]["name"] for p in kube_cluster.objects("", "v1", "pods", "default")}
    assert left == set(names[2:])
    # The Jobs stay (and keep their counts): only the pods are collected.
    assert kube_cluster.get("batch", "v1", "jobs", "run-0", "default")["status"]["succeeded"] == 1


def test_gc_pod_removes_one_pod_and_finalizers_hold_it(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.create(job("held", template_meta={"finalizers": ["example.com/keep"]}))
    wait_condition(kube_cluster, "held", "Complete")
    (pod,) = job_pods(kube_cluster, "held")
    name = pod["metadata"]["name"]
    kube_cluster.gc_pod("default", name)
    held = kube_cluster.get("", "v1", "pods", name, "default")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == [
        "example.com/keep"
    ]
    kube_cluster.patch("", "v1", "pods", name, {"metadata": {"finalizers": None}}, "default")
    assert kube_cluster.find("", "v1", "pods", name, "default") is None


def test_pods_whose_owner_is_gone_are_collected(kube_api: KubeAPIServer) -> None:
    owner = kube_api.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}
    )
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    kube_api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "child", "ownerReferences": [ref]},
                     "spec": {"containers": [{"name": "main", "image": "busybox"}]}})  # fmt: skip
    kube_api.delete("", "v1", "configmaps", "owner", "default")
    kube_api.wait_for(lambda: kube_api.find("", "v1", "pods", "child", "default") is None)
