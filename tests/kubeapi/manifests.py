"""Small manifests the fixture's own tests share."""

from __future__ import annotations

from typing import Any

from .server import KubeAPIServer


def job(name: str, *, container: dict[str, Any] | None = None, pod: dict[str, Any] | None = None,
        template_meta: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:  # fmt: skip
    """A batch/v1 Job with one ``main`` container (restartPolicy Never)."""
    main = {"name": "main", "image": "busybox", **(container or {})}
    template: dict[str, Any] = {
        "spec": {"restartPolicy": "Never", "containers": [main], **(pod or {})}
    }
    if template_meta:
        template["metadata"] = template_meta
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": template, **spec}}  # fmt: skip


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            return cond
    return None


def wait_condition(server: KubeAPIServer, name: str, ctype: str, namespace: str = "default",
                   timeout: float = 30) -> dict[str, Any]:  # fmt: skip
    """Wait until Job ``name`` has condition ``ctype`` True; return the Job."""

    def check() -> dict[str, Any] | None:
        found = server.find("batch", "v1", "jobs", name, namespace)
        return found if found and condition(found, ctype) else None

    return server.wait_for(check, timeout=timeout)


def job_pods(server: KubeAPIServer, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    return server.objects("", "v1", "pods", namespace, label_selector=f"job-name={name}")


def wait_status(server: KubeAPIServer, name: str, key: str, value: Any, namespace: str = "default",
                timeout: float = 30) -> dict[str, Any]:  # fmt: skip
    """Wait until Job ``name`` has ``status[key] == value``; return the Job."""

    def check() -> dict[str, Any] | None:
        found = server.find("batch", "v1", "jobs", name, namespace)
        return found if found and (found.get("status") or {}).get(key) == value else None

    return server.wait_for(check, timeout=timeout)
