"""Pod Security Standards checks, as Pod Security Admission enforces them on pod creation.

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ and the check
names and messages of k8s.io/pod-security-admission/policy (check_*.go). A namespace
labelled ``pod-security.kubernetes.io/enforce=baseline|restricted`` refuses pods that
violate the level with 403 ``violates PodSecurity "restricted:latest": ...``. Only pods
are enforced (workload templates only get warnings on a real server, not modelled here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .validation import forbidden

if TYPE_CHECKING:
    from .core import Core

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out += [c for c in spec.get(key) or [] if isinstance(c, dict)]
    return out


def _sc(obj: dict[str, Any]) -> dict[str, Any]:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _names(kind: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind}{'s' if len(names) > 1 else ''} {quoted}"


def baseline_violations(pod: dict[str, Any]) -> dict[str, str]:
    """Baseline level: check ID -> ``check (detail)`` as PSA words it."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    psc = _sc(spec)
    containers = _containers(spec)
    out: dict[str, str] = {}
    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if host:
        out["hostNamespaces"] = f"host namespaces ({', '.join(host)})"
    priv = [c["name"] for c in containers if _sc(c).get("privileged")]
    if priv:
        out["privileged"] = (
            f"privileged ({_names('container', priv)} must not set securityContext.privileged=true)"
        )
    added: dict[str, list[str]] = {}
    for c in containers:
        for cap in (_sc(c).get("capabilities") or {}).get("add") or []:
            if cap not in BASELINE_CAPABILITIES:
                added.setdefault(c["name"], []).append(cap)
    if added:
        parts = [
            f'container "{n}" must not include {", ".join(f"{chr(34)}{c}{chr(34)}" for c in caps)} '
            "in securityContext.capabilities.add"
            for n, caps in added.items()
        ]
        out["capabilities"] = f"non-default capabilities ({'; '.join(parts)})"
    host_paths = [
        v["name"] for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v
    ]
    if host_paths:
        out["hostPathVolumes"] = f"hostPath volumes ({_names('volume', host_paths)})"
    ports = [
        f'container "{c["name"]}" uses hostPort {p["hostPort"]}'
        for c in containers
        for p in c.get("ports") or []
        if isinstance(p, dict) and p.get("hostPort")
    ]
    if ports:
        out["hostPorts"] = f"hostPort ({', '.join(ports)})"
    apparmor = [
        f'{k}="{v}"'
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith(APPARMOR_PREFIX)
        and v not in ("runtime/default",)
        and not v.startswith("localhost/")
    ]
    profiles = [psc, *(_sc(c) for c in containers)]
    if any((sc.get("appArmorProfile") or {}).get("type") == "Unconfined" for sc in profiles):
        apparmor.append('securityContext.appArmorProfile.type="Unconfined"')
    if apparmor:
        out["appArmorProfile"] = (
            f"forbidden AppArmor profile{'s' if len(apparmor) > 1 else ''} ({', '.join(apparmor)})"
        )
    selinux = [sc.get("seLinuxOptions") or {} for sc in profiles]
    if any(
        o.get("user")
        or o.get("role")
        or o.get("type")
        not in (
            None,
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        )
        for o in selinux
    ):
        out["seLinuxOptions"] = "seLinuxOptions (forbidden securityContext.seLinuxOptions)"
    proc = [c["name"] for c in containers if _sc(c).get("procMount") not in (None, "Default")]
    if proc:
        out["procMount"] = (
            f'procMount ({_names("container", proc)} must not set securityContext.procMount to "Unmasked")'
        )
    if any((sc.get("seccompProfile") or {}).get("type") == "Unconfined" for sc in profiles):
        out["seccompProfile"] = (
            'seccompProfile (pod or container must not set securityContext.seccompProfile.type to "Unconfined")'
        )
    sysctls = [s.get("name") for s in psc.get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]
    if sysctls:
        out["sysctls"] = f"forbidden sysctls ({', '.join(sysctls)})"
    return out


def restricted_violations(pod: dict[str, Any]) -> dict[str, str]:
    """Restricted level: baseline's checks, where capabilities and seccompProfile are the
    restricted ones (PSA overrides those check IDs at this level)."""
    spec = pod.get("spec") or {}
    psc = _sc(spec)
    containers = _containers(spec)
    out = baseline_violations(pod)
    bad_volumes = []
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            kinds = [k for k in v if k != "name"]
            bad_volumes += [
                f'volume "{v["name"]}" uses restricted volume type "{k}"'
                for k in kinds
                if k not in RESTRICTED_VOLUME_TYPES
            ]
    if bad_volumes:
        out["restrictedVolumes"] = f"restricted volume types ({', '.join(bad_volumes)})"
    escalation = [
        c["name"] for c in containers if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if escalation:
        out["allowPrivilegeEscalation"] = (
            f"allowPrivilegeEscalation != false ({_names('container', escalation)} must set "
            "securityContext.allowPrivilegeEscalation=false)"
        )
    drop = [
        c["name"]
        for c in containers
        if "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or [])
    ]
    extra = {
        c["name"]: [
            a
            for a in (_sc(c).get("capabilities") or {}).get("add") or []
            if a != "NET_BIND_SERVICE"
        ]
        for c in containers
    }
    parts = []
    if drop:
        parts.append(
            f'{_names("container", drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    parts += [
        f'container "{n}" must not include {", ".join(chr(34) + a + chr(34) for a in adds)} in securityContext.capabilities.add'
        for n, adds in extra.items()
        if adds
    ]
    if parts:
        out["capabilities"] = f"unrestricted capabilities ({'; '.join(parts)})"
    pod_nonroot = psc.get("runAsNonRoot")
    nonroot = [c["name"] for c in containers if _sc(c).get("runAsNonRoot", pod_nonroot) is not True]
    if pod_nonroot is False or nonroot:
        who = "pod or " + _names("container", nonroot) if nonroot else "pod"
        out["runAsNonRoot"] = (
            f"runAsNonRoot != true ({who} must set securityContext.runAsNonRoot=true)"
        )
    if psc.get("runAsUser") == 0 or any(_sc(c).get("runAsUser") == 0 for c in containers):
        out["runAsUser"] = "runAsUser=0 (pod or container must not set runAsUser=0)"
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    unset = [
        c["name"]
        for c in containers
        if ((_sc(c).get("seccompProfile") or {}).get("type") or pod_seccomp)
        not in ("RuntimeDefault", "Localhost")
    ]
    if unset:
        out["seccompProfile"] = (
            f"seccompProfile (pod or {_names('container', unset)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost")'
        )
    return out


def violations(level: str, pod: dict[str, Any]) -> list[str]:
    """The level's failed checks in check-ID order, as PSA evaluates and aggregates them."""
    found = {"restricted": restricted_violations, "baseline": baseline_violations}.get(
        level, lambda _pod: {}
    )(pod)
    return [found[key] for key in sorted(found)]  # check IDs sort bytewise, as in Go


def enforce(core: Core, pod: dict[str, Any]) -> None:
    """Refuse ``pod`` if its namespace enforces a level the pod violates."""
    meta = pod["metadata"]
    ns = core.find_stored("/namespaces", "", meta.get("namespace") or "")
    labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get(ENFORCE_LABEL, "privileged")
    found = violations(level, pod)
    if not found:
        return
    version = labels.get(ENFORCE_VERSION_LABEL, "latest")
    name = meta.get("name") or meta.get("generateName", "")
    raise forbidden(
        "", "pods", name, f'violates PodSecurity "{level}:{version}": {", ".join(found)}'
    )
