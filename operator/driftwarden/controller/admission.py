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
    namespace_level,
    namespace_secrets,
    namespace_service_accounts,
    with_restricted_defaults,
)

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
