"""The Job policy applied before every create: gather its inputs, call the pure checker.

The inputs are the operator's flags (:class:`OperatorConfig`) and the annotations of
the monitor's Namespace, read fresh before each create (creates are rare: one per
schedule slot), so an admin's change applies to the next Job. A Namespace the
operator cannot read counts as unannotated: level ``restricted``, no extra service
accounts — a missing permission never loosens the policy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.kube import KubeApi
from driftwarden.monitor.policy import (
    RESTRICTED,
    Policy,
    Violation,
    check_job,
    describe,
    in_analysis_spec,
    namespace_level,
    namespace_secrets,
    namespace_service_accounts,
    with_restricted_defaults,
)
from driftwarden.monitor.spec import Monitor

log = logging.getLogger("driftwarden.controller")


async def namespace_policy(
    api: KubeApi, config: OperatorConfig, namespace: str, secrets: tuple[str, ...] = ()
) -> Policy:
    """The policy for Jobs in ``namespace``: the operator's allowlists and the Namespace's annotations.

    ``secrets`` are allowed besides the annotated ones (the analysis Job's storage Secret).
    """
    try:
        found = await api.get_namespace(namespace)
    except ApiException as error:
        if error.status != 403:
            raise
        log.warning(
            "cannot read the Namespace (RBAC: namespaces get); holding its Jobs to restricted",
            extra={"namespace": namespace},
        )
        found = None
    annotations = ((found or {}).get("metadata") or {}).get("annotations") or {}
    return Policy(
        namespace=namespace,
        level=namespace_level(annotations),
        operator_image=config.image,
        allowed_images=config.allowed_images,
        allowed_priority_classes=config.allowed_priority_classes,
        allowed_service_accounts=namespace_service_accounts(annotations),
        allowed_secrets=namespace_secrets(annotations) | frozenset(secrets),
    )


async def admit(
    api: KubeApi,
    config: OperatorConfig,
    job: Mapping[str, Any],
    *,
    fill_defaults: bool = False,
    secrets: tuple[str, ...] = (),
) -> tuple[dict[str, Any], list[Violation]]:
    """``(the Job to create, its violations)``: create it only when the list is empty.

    ``fill_defaults`` (retraining templates): at level restricted, fill in the
    fields that have one safe value (:func:`with_restricted_defaults`) first.
    ``secrets``: Secrets allowed for this Job whatever the Namespace says.
    """
    namespace = str((job.get("metadata") or {}).get("namespace") or "")
    policy = await namespace_policy(api, config, namespace, secrets)
    manifest = dict(job)
    if fill_defaults and policy.level == RESTRICTED:
        manifest = with_restricted_defaults(manifest)
    return manifest, check_job(manifest, policy)


# Conditions hold 1024 characters and the Events 1000: the whole message (remedies included)
# stays under both, prefix and run name (63) included.
MAX_MESSAGE = 850


async def admit_analysis(
    api: KubeApi, config: OperatorConfig, monitor: Monitor, job: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """``(the analysis Job to create, None)``, or ``(…, why it is refused)`` for Ready=False.

    The monitor's storage Secret is allowed whatever the Namespace says: it reaches
    only the operator's own analysis code.
    """
    secret = monitor.run.storage.secret_name
    manifest, violations = await admit(api, config, job, secrets=(secret,) if secret else ())
    if not violations:
        return manifest, None
    return manifest, "the Job policy refused the analysis Job: " + describe(
        in_analysis_spec(violations), max_chars=MAX_MESSAGE
    )


async def admit_retraining(
    api: KubeApi, config: OperatorConfig, run: str, job: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """``(the retraining Job to create, None)``, or ``(…, why it is refused)``; ``run`` triggered it."""
    manifest, violations = await admit(api, config, job, fill_defaults=True)
    if not violations:
        return manifest, None
    return manifest, (
        f"run {run} found drift; the Job policy refused its retraining Job: "
        + describe(violations, prefix="spec.retraining.jobTemplate.", max_chars=MAX_MESSAGE)
    )
