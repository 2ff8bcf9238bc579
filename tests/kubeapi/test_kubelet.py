"""The kubelet stand-in: pod phases and container states, exit codes, OOMKilled, pods that
never schedule, logs, and the kubelet's termination-message rule."""

from __future__ import annotations

from typing import Any

from .kubelet import (
    MAX_TERMINATION_MESSAGE_LENGTH,
    Outcome,
    Unschedulable,
    Waiting,
    config_error,
    keep_running,
    termination_message,
)
from .manifests import job, job_pods, wait_condition, wait_status
from .server import KubeAPIServer


def terminated(server: KubeAPIServer, name: str) -> dict[str, Any]:
    (pod,) = job_pods(server, name)
    return pod["status"]["containerStatuses"][0]["state"]["terminated"]


def test_failed_container_reports_exit_code_reason_message_and_times(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.kubelet.behave(
        lambda run: Outcome(exit_code=3, termination_message='{"error": "bad input"}')
    )
    kube_cluster.create(job("bad", backoffLimit=0))
    wait_condition(kube_cluster, "bad", "Failed")
    state = terminated(kube_cluster, "bad")
    assert state["exitCode"] == 3 and state["reason"] == "Error"
    assert state["message"] == '{"error": "bad input"}'
    assert state["startedAt"] <= state["finishedAt"] and state["containerID"].startswith(
        "containerd://"
    )
    (pod,) = job_pods(kube_cluster, "bad")
    assert pod["status"]["phase"] == "Failed" and pod["spec"]["nodeName"]
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


def test_oom_killed_container(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(lambda run: Outcome.oom_killed(logs="allocating...\n"))
    kube_cluster.create(job("hungry", backoffLimit=0))
    wait_condition(kube_cluster, "hungry", "Failed")
    state = terminated(kube_cluster, "hungry")
    assert (state["exitCode"], state["reason"]) == (137, "OOMKilled")


def test_pod_that_never_schedules_stays_pending_and_counts_as_active(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.kubelet.behave(
        lambda run: Unschedulable("0/3 nodes are available: 3 Insufficient memory.")
    )
    kube_cluster.create(job("stuck"))
    pending = kube_cluster.wait_for(lambda: [
        p for p in job_pods(kube_cluster, "stuck")
        if any(c["type"] == "PodScheduled" for c in p["status"].get("conditions") or [])])  # fmt: skip
    (pod,) = pending
    (cond,) = pod["status"]["conditions"]
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    assert cond == {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient memory.", "lastProbeTime": None,
                    "lastTransitionTime": cond["lastTransitionTime"]}  # fmt: skip
    status = wait_status(kube_cluster, "stuck", "active", 1)["status"]
    assert status["ready"] == 0
    kube_cluster.kubelet.behave(lambda run: Outcome())  # capacity appears: the scheduler retries
    wait_condition(kube_cluster, "stuck", "Complete")


def test_running_pod_is_ready_with_a_running_container(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(keep_running)
    kube_cluster.create(job("busy"))
    wait_status(kube_cluster, "busy", "ready", 1)
    (pod,) = job_pods(kube_cluster, "busy")
    assert pod["status"]["phase"] == "Running"
    (cs,) = pod["status"]["containerStatuses"]
    assert cs["ready"] and cs["started"] and cs["state"]["running"]["startedAt"]


def test_logs_are_served(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(lambda run: Outcome(logs="line 1\nline 2\n"))
    kube_cluster.create(job("chatty"))
    wait_condition(kube_cluster, "chatty", "Complete")
    (pod,) = job_pods(kube_cluster, "chatty")
    status, text, _ = kube_cluster.http(
        "GET", f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}/log"
    )
    assert status == 200 and text == "line 1\nline 2\n"


def test_termination_message_keeps_the_last_4096_bytes_of_the_file(
    kube_cluster: KubeAPIServer,
) -> None:
    body = "HEAD" + "x" * 5000 + "TAIL"
    kube_cluster.kubelet.behave(lambda run: Outcome(termination_message=body))
    kube_cluster.create(job("long"))
    wait_condition(kube_cluster, "long", "Complete")
    message = terminated(kube_cluster, "long")["message"]
    assert len(message.encode()) == MAX_TERMINATION_MESSAGE_LENGTH and message.endswith("TAIL")
    assert "HEAD" not in message


def test_fallback_to_logs_on_error_takes_the_last_80_lines_within_2048_bytes() -> None:
    container = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    logs = "".join(f"line {i}\n" for i in range(100))
    message = termination_message(container, Outcome(exit_code=1, logs=logs))
    assert message == "".join(f"line {i}\n" for i in range(20, 100))
    wide = "".join(f"{i:03d}" + "y" * 96 + "\n" for i in range(100))  # 100 bytes a line
    message = termination_message(container, Outcome(exit_code=1, logs=wide))
    assert len(message.encode()) == 2048 and message.endswith("099" + "y" * 96 + "\n")
    # Not on success, not when the file has content, not with the File policy.
    assert termination_message(container, Outcome(exit_code=0, logs=logs)) == ""
    assert (
        termination_message(container, Outcome(exit_code=1, logs=logs, termination_message="own"))
        == "own"
    )
    assert (
        termination_message({"terminationMessagePolicy": "File"}, Outcome(exit_code=1, logs=logs))
        == ""
    )


def test_fallback_message_reaches_the_pod_status(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(
        lambda run: Outcome(exit_code=1, logs="Traceback ...\nValueError: boom\n")
    )
    kube_cluster.create(
        job(
            "crash", backoffLimit=0, container={"terminationMessagePolicy": "FallbackToLogsOnError"}
        )
    )
    wait_condition(kube_cluster, "crash", "Failed")
    assert terminated(kube_cluster, "crash")["message"] == "Traceback ...\nValueError: boom\n"


def test_container_that_cannot_start_keeps_the_pod_pending_with_a_waiting_reason(
    kube_cluster: KubeAPIServer,
) -> None:
    message = 'Back-off pulling image "registry.example/missing:1"'
    kube_cluster.kubelet.behave(lambda run: Waiting("ImagePullBackOff", message))
    kube_cluster.create(job("pull"))
    (pod,) = kube_cluster.wait_for(lambda: [
        p for p in job_pods(kube_cluster, "pull") if p["status"].get("containerStatuses")])  # fmt: skip
    assert pod["status"]["phase"] == "Pending" and pod["spec"]["nodeName"]
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ImagePullBackOff", "message": message}
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ContainersNotReady"
    assert wait_status(kube_cluster, "pull", "active", 1)["status"]["ready"] == 0
    kube_cluster.kubelet.behave(lambda run: Outcome())  # the image appears: the kubelet retries
    wait_condition(kube_cluster, "pull", "Complete")


def test_missing_secret_is_a_create_container_config_error_until_it_exists(
    kube_cluster: KubeAPIServer,
) -> None:
    container = {"envFrom": [{"secretRef": {"name": "s3-credentials"}}]}
    kube_cluster.create(job("creds", container=container))

    def waiting() -> dict[str, Any] | None:
        for p in job_pods(kube_cluster, "creds"):
            for cs in p["status"].get("containerStatuses") or []:
                state = cs["state"].get("waiting") or {}
                if state.get("reason") == "CreateContainerConfigError":
                    return state
        return None

    state = kube_cluster.wait_for(waiting)
    assert state["message"] == 'secret "s3-credentials" not found'
    kube_cluster.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-credentials"},
                         "stringData": {"AWS_ACCESS_KEY_ID": "x"}})  # fmt: skip
    wait_condition(kube_cluster, "creds", "Complete")


def test_config_error_names_a_missing_key() -> None:
    from .core import Core

    core = Core()
    cm_rt = core.find_type("", "v1", "configmaps")
    assert cm_rt is not None
    core.create(cm_rt, "default", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    env = [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}}}]
    pod = {
        "metadata": {"namespace": "default"},
        "spec": {"containers": [{"name": "main", "env": env}]},
    }
    assert config_error(core, pod) == "couldn't find key b in ConfigMap default/settings"
    env[0]["valueFrom"]["configMapKeyRef"]["optional"] = True  # type: ignore[index]
    assert config_error(core, pod) is None
