"""The API machinery without HTTP: storage, resourceVersions, watch history,
create/update/patch/delete semantics, and the controllers a test can observe
(garbage collector, namespace lifecycle, CRD cleanup, service accounts).

Every method runs on the server's event-loop thread; ``server.py`` marshals
calls from other threads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import schema as openapi
from .admission import Admission
from .clock import Clock
from .patching import (
    PatchError,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from .resources import CRD_FINALIZER, ResourceType, builtin_types, custom_types_from_crd
from .selectors import (
    FieldRequirement,
    Requirement,
    fields_match,
    labels_match,
)
from .validation import (
    ApiError,
    Cause,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    validate_object_meta,
)
from .versions import DEFAULT_VERSION, parse_version

SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}
FAKE_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfakefakefakefakefakefakefakefakefakefakefakefakefakefakefake=\n"
    "-----END CERTIFICATE-----\n"
)


def normalize_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop empty collections from metadata, as Go's omitempty does on a real server."""
    meta = obj.get("metadata") or {}
    for key in ("labels", "annotations", "finalizers", "ownerReferences"):
        if key in meta and not meta[key]:
            del meta[key]
    return obj


def now_rfc3339(offset: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


STOP = object()  # put into watcher queues when the server stops


@dataclass
class WatchEvent:
    rv: int
    storage: str
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]  # storage form, as of this event
    prev: dict[str, Any] | None  # storage form before this event (MODIFIED only)


class Core:
    def __init__(self, *, history_size: int = 10_000, pod_grace_cap: float = 0.5) -> None:
        self._rv = 100
        self.compacted_rv = self._rv  # watch history holds every event with rv > this
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.pod_grace_cap = pod_grace_cap
        self.types: dict[tuple[str, str], dict[str, ResourceType]] = {}
        self.storage_types: dict[str, ResourceType] = {}
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.watchers: set[asyncio.Queue[Any]] = set()
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.admission = Admission()
        self.clock = Clock()
        # In-server controllers beyond the built-in ones (Job controller, kubelet, pod GC, TTL):
        # each has sync(), run after writes, and tick(), run periodically for time-based work.
        self.controllers: list[Any] = []
        self.version = parse_version(DEFAULT_VERSION)
        self._reconcile_pending = False
        self._reconciling = False
        for rt in builtin_types():
            self.add_type(rt)
        ns_type = self.find_type("", "v1", "namespaces")
        assert ns_type is not None
        for name in INITIAL_NAMESPACES:
            self.create(ns_type, None, {"metadata": {"name": name}})
        pc_type = self.find_type("scheduling.k8s.io", "v1", "priorityclasses")
        assert pc_type is not None
        for name, value in SYSTEM_PRIORITY_CLASSES.items():
            self.create(pc_type, None, {"metadata": {"name": name}, "value": value,
                                        "description": "Used for system critical pods that must not be moved from their current node."})  # fmt: skip
        self.reconcile()

    # -- types -------------------------------------------------------------

    def add_type(self, rt: ResourceType, *, storage_owner: bool = True) -> None:
        self.types.setdefault((rt.group, rt.version), {})[rt.plural] = rt
        self.objects.setdefault(rt.storage, {})
        if storage_owner and (rt.storage not in self.storage_types or rt.to_storage is None):
            self.storage_types[rt.storage] = rt

    def remove_types(self, predicate: Callable[[ResourceType], bool]) -> None:
        for gv in list(self.types):
            for plural, rt in list(self.types[gv].items()):
                if predicate(rt):
                    del self.types[gv][plural]
            if not self.types[gv]:
                del self.types[gv]

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version), {}).get(plural)

    def type_for(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        for rt in self.types.get((group, version), {}).values():
            if rt.kind == kind:
                return rt
        raise ApiError(
            404, f'no matches for kind "{kind}" in version "{api_version}"', reason="NotFound"
        )

    def _register_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self.remove_types(lambda rt: rt.crd_name == name)
        types = custom_types_from_crd(crd)
        storage_version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
        for rt in types:
            self.add_type(rt, storage_owner=False)
        owner = next(
            (rt for rt in types if rt.version == storage_version), types[0] if types else None
        )
        if owner is not None:
            self.storage_types[owner.storage] = owner

    def _unregister_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        spec = crd["spec"]
        storage = f"{spec['group']}/{spec['names']['plural']}"
        self.remove_types(lambda rt: rt.crd_name == name)
        self.objects.pop(storage, None)
        self.storage_types.pop(storage, None)
        for q in list(self.watchers):
            q.put_nowait(("closed", storage))

    # -- storage primitives ------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def _bump(self) -> int:
        self._rv += 1
        return self._rv

    def find_stored(self, storage: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(storage, {}).get((namespace or "", name))

    def _stored(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.find_stored(rt.storage, namespace if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt.group, rt.plural, name)
        return obj

    def _emit(
        self, etype: str, storage: str, obj: dict[str, Any], prev: dict[str, Any] | None
    ) -> None:
        meta = obj["metadata"]
        event = WatchEvent(
            int(meta["resourceVersion"]),
            storage,
            meta.get("namespace", ""),
            etype,
            copy.deepcopy(obj),
            copy.deepcopy(prev) if prev is not None else None,
        )
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for q in list(self.watchers):
            q.put_nowait(event)
        self._schedule_reconcile()

    def _key(self, obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace", ""), meta["name"])

    def _is_crd(self, storage: str) -> bool:
        return storage == "apiextensions.k8s.io/customresourcedefinitions"

    def _commit_create(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(self._bump())
        self.objects[rt.storage][self._key(obj)] = obj
        self._emit("ADDED", rt.storage, obj, None)
        if self._is_crd(rt.storage):
            self._register_crd(obj)
        return obj

    @staticmethod
    def _pending_deletion(obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        if meta.get("finalizers"):
            return True
        if obj.get("kind") == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
            return True
        return bool(meta.get("deletionGracePeriodSeconds"))

    def _commit_update(
        self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        if new["metadata"].get("deletionTimestamp") and not self._pending_deletion(new):
            return self._commit_remove(rt, new)
        new["metadata"]["resourceVersion"] = str(self._bump())
        self.objects[rt.storage][self._key(new)] = new
        self._emit("MODIFIED", rt.storage, new, old)
        if self._is_crd(rt.storage):
            self._register_crd(new)
        return new

    def _commit_remove(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        self.objects[rt.storage].pop(self._key(obj), None)
        obj["metadata"]["resourceVersion"] = str(self._bump())
        self._emit("DELETED", rt.storage, obj, None)
        if rt.storage == "/pods":
            self.pod_logs.pop(self._key(obj), None)
        if self._is_crd(rt.storage):
            self._unregister_crd(obj)
        return obj

    # -- decoding ----------------------------------------------------------

    def _decode(
        self, rt: ResourceType, body: Any, field_validation: str, warnings: list[str]
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(
                f"json: cannot unmarshal {type(body).__name__} into Go value of type "
                "map[string]interface {}"
            )
        obj = copy.deepcopy(body)
        if rt.custom:
            if not obj.get("kind"):
                raise bad_request(f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
            if not obj.get("apiVersion"):
                raise bad_request(f"Object 'apiVersion' is missing in '{json.dumps(body)[:200]}'")
        kind = obj.get("kind") or rt.kind
        api_version = obj.get("apiVersion") or rt.api_version
        if kind != rt.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        if api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        obj["kind"], obj["apiVersion"] = kind, api_version
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("metadata: must be an object")
        obj.setdefault("metadata", {})
        if rt.custom and rt.schema is not None:
            removed: list[str] = []
            openapi.prune(obj, rt.schema, "", removed, root=True)
            if removed and field_validation == "Strict":
                listed = ", ".join(f'unknown field "{p}"' for p in removed)
                raise bad_request(f"strict decoding error: {listed}")
            if field_validation == "Warn":
                warnings.extend(f'unknown field "{p}"' for p in removed)
            openapi.apply_defaults(obj, rt.schema)
        return obj

    def _schema_causes(
        self, rt: ResourceType, obj: dict[str, Any], *, status_only: bool = False
    ) -> list[Cause]:
        if not rt.custom or rt.schema is None:
            return []
        if status_only:
            status_schema = (rt.schema.get("properties") or {}).get("status")
            if status_schema is None or "status" not in obj:
                return []
            return openapi.validate(obj["status"], status_schema, "status")
        body = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
        props = {
            k: v
            for k, v in (rt.schema.get("properties") or {}).items()
            if k not in ("metadata", "apiVersion", "kind")
        }
        root = {**rt.schema, "properties": props}
        return openapi.validate(body, root, "")

    # -- create ------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Warn",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        warnings = warnings if warnings is not None else []
        obj = rt.internal(self._decode(rt, body, field_validation, warnings))
        meta = obj["metadata"]
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
            ns_obj = self.find_stored("/namespaces", "", namespace or "")
            if ns_obj is None:
                raise not_found("", "namespaces", namespace or "")
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    403,
                    f'{rt.plural} "{meta.get("name", "")}" is forbidden: unable to create new '
                    f"content in namespace {namespace} because it is being terminated",
                    reason="Forbidden",
                    details={"name": meta.get("name", ""), "group": rt.group, "kind": rt.plural,
                             "causes": [{"reason": "NamespaceTerminating",
                                         "message": f"namespace {namespace} is being terminated",
                                         "field": "metadata.namespace"}]},
                )  # fmt: skip
        else:
            meta.pop("namespace", None)
        if rt.custom:
            crd = self.find_stored(
                "apiextensions.k8s.io/customresourcedefinitions", "", rt.crd_name
            )
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    405, "create not allowed while custom resource definition is terminating"
                )
        if meta.get("resourceVersion"):
            raise ApiError(500, "resourceVersion should not be set on objects to be created")
        for key in (*SYSTEM_META, "selfLink", "managedFields"):
            meta.pop(key, None)
        # Mutating admission runs in the handler, before the store generates a name, so its
        # refusals name the generateName prefix (pods "job-" is forbidden: ...).
        if rt.admit_create is not None:
            rt.admit_create(self, obj)
        self.admission.mutate(self, "create", rt, obj)
        if not meta.get("name") and meta.get("generateName"):
            prefix = str(meta["generateName"])[:58]
            for _ in range(8):
                candidate = prefix + "".join(random.choices(GENERATE_ALPHABET, k=5))
                if self.find_stored(rt.storage, meta.get("namespace", ""), candidate) is None:
                    meta["name"] = candidate
                    break
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.clock.rfc3339()
        if rt.has_generation:
            meta["generation"] = 1
        if rt.custom and rt.has_status:
            obj.pop("status", None)
        causes = validate_object_meta(
            meta, namespaced=rt.namespaced, name_errors=rt.name_errors, creating=True
        )
        if rt.prepare_create is not None:
            rt.prepare_create(self, obj)
        causes += self._schema_causes(rt, obj)
        if rt.validate is not None:
            causes += rt.validate(self, obj, None)
        if causes:
            raise invalid(
                rt.group, rt.kind, meta.get("name") or meta.get("generateName", ""), causes
            )
        normalize_meta(obj)
        # Validating admission (quota, Pod Security, test refusals) runs after validation, on
        # the object with its generated name.
        self.admission.review(self, "create", rt, meta.get("namespace"), obj)
        if self.find_stored(rt.storage, meta.get("namespace", ""), meta["name"]) is not None:
            raise already_exists(rt.group, rt.plural, meta["name"])
        if dry_run:
            return rt.external(obj)
        return rt.external(self._commit_create(rt, obj))

    # -- read --------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        return self._present(rt, self._stored(rt, namespace, name))

    def _present(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        obj = rt.external(stored)
        if rt.custom and rt.schema is not None:
            openapi.prune(obj, rt.schema, "", [], root=True)
            openapi.apply_defaults(obj, rt.schema)
        return obj

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement] = (),  # type: ignore[assignment]
        fields: list[FieldRequirement] = (),  # type: ignore[assignment]
    ) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self.objects.get(rt.storage, {})):
            if rt.namespaced and namespace and key[0] != namespace:
                continue
            obj = self.objects[rt.storage][key]
            if labels_match(list(labels), obj) and fields_match(
                list(fields), obj, rt.field_getters
            ):
                out.append(obj)
        return out

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement] = (),  # type: ignore[assignment]
        fields: list[FieldRequirement] = (),  # type: ignore[assignment]
        *,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        rv = self._rv
        items = self.select(rt, namespace, labels, fields)
        if continue_token:
            try:
                token = json.loads(base64.b64decode(continue_token))
                rv, start = int(token["rv"]), tuple(token["start"])
            except (ValueError, KeyError, TypeError):
                raise bad_request(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
                ) from None
            if rv < self.compacted_rv:
                raise ApiError(
                    410,
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                    reason="Expired",
                )
            items = [o for o in items if self._key(o) > start]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            last = self._key(items[limit - 1])
            meta["continue"] = base64.b64encode(
                json.dumps({"rv": rv, "start": list(last)}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        out_items = []
        for stored in items:
            obj = self._present(rt, stored)
            if not rt.custom:  # built-in lists carry no kind/apiVersion per item
                obj.pop("kind", None)
                obj.pop("apiVersion", None)
            out_items.append(obj)
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": out_items,
        }

    # -- update & patch ----------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
        is_patch: bool = False,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        warnings = warnings if warnings is not None else []
        old = self._stored(rt, namespace, name)
        obj = rt.internal(self._decode(rt, body, field_validation, warnings))
        meta = obj["metadata"]
        old_meta = old["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        given_rv = meta.get("resourceVersion")
        if given_rv:
            if str(given_rv) != old_meta["resourceVersion"]:
                raise conflict(
                    rt.group,
                    rt.plural,
                    name,
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again",
                )
        elif not is_patch and not rt.unconditional_update:
            raise invalid(
                rt.group,
                rt.kind,
                name,
                [
                    Cause.invalid(
                        "metadata.resourceVersion", "0x0", "must be specified for an update"
                    )
                ],
            )
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                f"{old_meta['uid']}",
            )

        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        elif subresource == "finalize":
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["finalizers"] = list(
                (obj.get("spec") or {}).get("finalizers") or []
            )
        else:
            new = obj
            new_meta = new["metadata"]
            for key in SYSTEM_META:
                if key in old_meta:
                    new_meta[key] = old_meta[key]
                else:
                    new_meta.pop(key, None)
            new_meta.pop("selfLink", None)
            new_meta.pop("managedFields", None)
            if rt.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = [
                    f
                    for f in new_meta.get("finalizers") or []
                    if f not in (old_meta.get("finalizers") or [])
                ]
                if added:
                    listed = ", ".join(f'"{f}"' for f in added)
                    raise invalid(
                        rt.group,
                        rt.kind,
                        name,
                        [Cause.forbidden("metadata.finalizers",
                                         f"no new finalizers can be added if the object is being "
                                         f"deleted, found new finalizers []string{{{listed}}}")],
                    )  # fmt: skip
            if rt.prepare_update is not None:
                rt.prepare_update(self, new, old)

        causes = validate_object_meta(
            new["metadata"], namespaced=rt.namespaced, name_errors=lambda _n: [], creating=False
        )
        causes += self._schema_causes(rt, new, status_only=subresource == "status")
        if rt.validate is not None and subresource is None:
            causes += rt.validate(self, new, old)
        if causes:
            raise invalid(rt.group, rt.kind, name, causes)

        if rt.has_generation and subresource is None:
            skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.has_status else set())

            def content(o: dict[str, Any]) -> dict[str, Any]:
                return {k: v for k, v in o.items() if k not in skip}

            if not json_equal(content(new), content(old)):
                new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1

        normalize_meta(new)
        if json_equal(new, old):
            return self._present(rt, old)
        self.admission.review(self, "patch" if is_patch else "update", rt, namespace, new)
        if dry_run:
            return self._present(rt, new)
        stored = self._commit_update(rt, new, old)
        return self._present(rt, stored)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        current = self._present(rt, self._stored(rt, namespace, name))
        try:
            if patch_type == "merge":
                if not isinstance(body, dict):
                    raise bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}"
                    )
                patched = merge_patch(current, body)
            elif patch_type == "json":
                patched = json_patch(current, body)
            elif patch_type == "strategic":
                if rt.custom:
                    raise ApiError(
                        415,
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml",
                    )
                patched = strategic_merge_patch(current, body)
            else:
                raise ApiError(415, f"unsupported patch type: {patch_type}")
        except PatchError as e:
            if e.bad_request:
                raise bad_request(str(e)) from None
            raise ApiError(422, str(e), reason="Invalid") from None
        return self.update(
            rt,
            namespace,
            name,
            patched,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            is_patch=True,
            warnings=warnings,
        )

    # -- delete ------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
        system: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        options = options or {}
        old = self._stored(rt, namespace, name)
        meta = old["metadata"]
        if not system:  # the in-server controllers (garbage collector, ...) are not refused
            self.admission.review(self, "delete", rt, namespace, old)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise conflict(rt.group, rt.plural, name,
                           f"Precondition failed: UID in precondition: {pre['uid']}, "
                           f"UID in object meta: {meta['uid']}")  # fmt: skip
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name,
                           f"Precondition failed: ResourceVersion in precondition: "
                           f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                           f"{meta['resourceVersion']}")  # fmt: skip
        policy = options.get("propagationPolicy")
        orphan = options.get("orphanDependents")
        if policy and orphan is not None:
            raise invalid(rt.group, rt.kind, name, [Cause.invalid(
                "propagationPolicy", policy,
                "orphanDependents and deletionPropagation cannot be both set")])  # fmt: skip
        if not policy:
            policy = (
                "Orphan"
                if orphan is True
                else "Background"
                if orphan is False
                else rt.default_propagation
            )
        if policy not in PROPAGATION_POLICIES:
            raise invalid(rt.group, rt.kind, name,
                          [Cause.not_supported("propagationPolicy", policy, list(PROPAGATION_POLICIES))])  # fmt: skip
        grace = rt.grace(old, options) if rt.grace is not None else 0
        new = copy.deepcopy(old)
        new_meta = new["metadata"]
        fins = list(new_meta.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in fins:
            fins = [f for f in fins if f != "foregroundDeletion"] + ["orphan"]
        elif policy == "Foreground" and "foregroundDeletion" not in fins:
            fins = [f for f in fins if f != "orphan"] + ["foregroundDeletion"]
        if rt.storage == "/namespaces":
            new.setdefault("status", {})["phase"] = "Terminating"
        if fins:
            new_meta["finalizers"] = fins
        normalize_meta(new)
        pending = self._pending_deletion(new) or grace > 0
        if dry_run:
            return 200, self._present(rt, old)
        if not pending:
            removed = self._commit_remove(rt, old)
            if rt.return_deleted_object:
                return 200, self._present(rt, removed)
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta["uid"]},
            }
        if not new_meta.get("deletionTimestamp"):
            new_meta["deletionTimestamp"] = self.clock.rfc3339(grace)
            new_meta["deletionGracePeriodSeconds"] = grace
        if json_equal(new, old):
            return 200, self._present(rt, old)
        stored = self._commit_update(rt, new, old)
        if grace > 0 and self.loop is not None:
            self.loop.call_later(
                min(grace, self.pod_grace_cap),
                self._finish_graceful,
                rt,
                self._key(stored),
                meta["uid"],
            )
        code = 202 if orphan is False else 200
        return code, self._present(rt, stored)

    def _finish_graceful(self, rt: ResourceType, key: tuple[str, str], uid: str) -> None:
        """What a kubelet does when a pod's grace period ends."""
        obj = self.objects.get(rt.storage, {}).get(key)
        if obj is None or obj["metadata"]["uid"] != uid:
            return
        new = copy.deepcopy(obj)
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        self._commit_update(rt, new, obj)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        options: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        items = []
        for stored in self.select(rt, namespace, labels, fields):
            try:
                _, body = self.delete(
                    rt,
                    stored["metadata"].get("namespace"),
                    stored["metadata"]["name"],
                    options,
                    dry_run=dry_run,
                )
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            if body.get("kind") != "Status":
                items.append(body)
            else:
                items.append(self._present(rt, stored))
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self._rv)}, "items": items}  # fmt: skip

    # -- watch support -----------------------------------------------------

    def watch_view(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        event: WatchEvent,
    ) -> dict[str, Any] | None:
        if event.storage != rt.storage:
            return None
        if rt.namespaced and namespace and event.namespace != namespace:
            return None

        def match(obj: dict[str, Any] | None) -> bool:
            return (
                obj is not None
                and labels_match(labels, obj)
                and fields_match(fields, obj, rt.field_getters)
            )

        now_ok = match(event.obj)
        if event.type == "MODIFIED":
            was_ok = match(event.prev)
            etype = (
                "MODIFIED" if now_ok and was_ok else
                "ADDED" if now_ok else
                "DELETED" if was_ok else None
            )  # fmt: skip
        else:
            etype = event.type if now_ok else None
        if etype is None:
            return None
        return {"type": etype, "object": self._present(rt, event.obj)}

    def events_since(self, rv: int) -> list[WatchEvent]:
        return [e for e in self.history if e.rv > rv]

    def close_watches(self) -> None:
        for q in list(self.watchers):
            q.put_nowait(STOP)

    def compact(self) -> int:
        """Forget the watch history, as etcd compaction does; returns the compacted revision."""
        self.history.clear()
        self.compacted_rv = self._rv
        return self._rv

    # -- controllers -------------------------------------------------------

    def _schedule_reconcile(self) -> None:
        if self._reconcile_pending or self._reconciling or self.loop is None:
            return
        self._reconcile_pending = True
        self.loop.call_soon(self._run_reconcile)

    def _run_reconcile(self) -> None:
        self._reconcile_pending = False
        self.reconcile()

    def reconcile(self) -> None:
        """Run the in-server controllers until nothing changes."""
        if self._reconciling:
            return
        self._reconciling = True
        try:
            for _ in range(100):
                if not self._reconcile_once():
                    break
        finally:
            self._reconciling = False

    def _all(self) -> Iterable[tuple[ResourceType, dict[str, Any]]]:
        for storage, objs in list(self.objects.items()):
            rt = self.storage_types.get(storage)
            if rt is None:
                continue
            for obj in list(objs.values()):
                yield rt, obj

    def _system_update(
        self, rt: ResourceType, old: dict[str, Any], mutate: Callable[[dict[str, Any]], None]
    ) -> None:
        new = copy.deepcopy(old)
        mutate(new)
        normalize_meta(new)
        if not json_equal(new, old):
            self._commit_update(rt, new, old)

    def _system_delete(
        self, rt: ResourceType, obj: dict[str, Any], policy: str = "Background"
    ) -> None:
        with contextlib.suppress(ApiError):
            self.delete(
                rt,
                obj["metadata"].get("namespace"),
                obj["metadata"]["name"],
                {"propagationPolicy": policy},
                system=True,
            )

    def _reconcile_once(self) -> bool:
        start_rv = self._rv
        everything = list(self._all())
        by_uid = {obj["metadata"]["uid"]: (rt, obj) for rt, obj in everything}
        dependents: dict[str, list[tuple[ResourceType, dict[str, Any]]]] = {}
        for rt, obj in everything:
            for ref in obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((rt, obj))

        ns_rt = self.storage_types["/namespaces"]
        sa_rt = self.storage_types["/serviceaccounts"]
        cm_rt = self.storage_types["/configmaps"]
        for rt, obj in everything:
            if rt is not ns_rt or obj["metadata"].get("deletionTimestamp"):
                continue
            ns = obj["metadata"]["name"]
            if self.find_stored("/serviceaccounts", ns, "default") is None:
                self.create(sa_rt, ns, {"metadata": {"name": "default"}})
            if self.find_stored("/configmaps", ns, "kube-root-ca.crt") is None:
                self.create(cm_rt, ns, {"metadata": {"name": "kube-root-ca.crt",
                                                     "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                                        "data": {"ca.crt": FAKE_CA}})  # fmt: skip

        for rt, obj in everything:
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                continue
            current = self.find_stored(rt.storage, meta.get("namespace"), meta["name"])
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                continue
            fins = meta.get("finalizers") or []
            uid = meta["uid"]
            if "orphan" in fins:
                for drt, dep in dependents.get(uid, []):
                    self._system_update(drt, dep, lambda d, u=uid: d["metadata"].__setitem__(
                        "ownerReferences", [r for r in d["metadata"]["ownerReferences"] if r.get("uid") != u]))  # fmt: skip
                self._drop_finalizer(rt, uid, "orphan")
            elif "foregroundDeletion" in fins:
                blocking = False
                for drt, dep in dependents.get(uid, []):
                    if not dep["metadata"].get("deletionTimestamp"):
                        self._system_delete(drt, dep)
                    still = self.find_stored(
                        drt.storage, dep["metadata"].get("namespace"), dep["metadata"]["name"]
                    )
                    if still is not None and any(
                        r.get("uid") == uid and r.get("blockOwnerDeletion")
                        for r in still["metadata"].get("ownerReferences") or []
                    ):
                        blocking = True
                if not blocking:
                    self._drop_finalizer(rt, uid, "foregroundDeletion")
            if rt is ns_rt:
                ns = meta["name"]
                remaining = False
                for other_rt, other in everything:
                    if other_rt.namespaced and other["metadata"].get("namespace") == ns:
                        if (
                            self.find_stored(other_rt.storage, ns, other["metadata"]["name"])
                            is None
                        ):
                            continue
                        remaining = True
                        if not other["metadata"].get("deletionTimestamp"):
                            self._system_delete(other_rt, other)
                if not remaining:
                    fresh = self.find_stored("/namespaces", "", ns)
                    if fresh is not None:
                        self._system_update(ns_rt, fresh, lambda n: n["spec"].__setitem__(
                            "finalizers", [f for f in n["spec"].get("finalizers", []) if f != "kubernetes"]))  # fmt: skip
            if self._is_crd(rt.storage) and CRD_FINALIZER in fins:
                storage = f"{obj['spec']['group']}/{obj['spec']['names']['plural']}"
                instances = list(self.objects.get(storage, {}).values())
                crt = self.storage_types.get(storage)
                if crt is not None:
                    for inst in instances:
                        if not inst["metadata"].get("deletionTimestamp"):
                            self._system_delete(crt, inst)
                if not self.objects.get(storage):
                    self._drop_finalizer(rt, uid, CRD_FINALIZER)

        # Garbage collector: dependents whose owners are all gone go too.
        for rt, obj in everything:
            meta = obj["metadata"]
            current = self.find_stored(rt.storage, meta.get("namespace"), meta["name"])
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                continue
            refs = current["metadata"].get("ownerReferences") or []
            if not refs or current["metadata"].get("deletionTimestamp"):
                continue
            alive = [r for r in refs if self._owner_exists(r, obj, by_uid)]
            if not alive:
                self._system_delete(rt, current)
            elif len(alive) != len(refs):
                self._system_update(
                    rt, current, lambda o, a=alive: o["metadata"].__setitem__("ownerReferences", a)
                )
        for controller in self.controllers:
            controller.sync()
        return self._rv != start_rv

    def _owner_exists(
        self,
        ref: dict[str, Any],
        dependent: dict[str, Any],
        by_uid: dict[str, tuple[ResourceType, dict[str, Any]]],
    ) -> bool:
        """The garbage collector looks owners up by apiVersion, kind, namespace and name,
        then compares the uid: a reference wrong in any of them points at nothing."""
        found = by_uid.get(ref.get("uid", ""))
        if found is None:
            return False
        rt, obj = found
        meta = obj["metadata"]
        if self.find_stored(rt.storage, meta.get("namespace"), meta["name"]) is None:
            return False
        group = ref.get("apiVersion", "").rpartition("/")[0]
        if (
            rt.group != group
            or obj.get("kind") != ref.get("kind")
            or meta["name"] != ref.get("name")
        ):
            return False
        return not (
            rt.namespaced and meta.get("namespace") != dependent["metadata"].get("namespace")
        )

    def _drop_finalizer(self, rt: ResourceType, uid: str, finalizer: str) -> None:
        for obj in list(self.objects.get(rt.storage, {}).values()):
            if obj["metadata"]["uid"] == uid:
                self._system_update(rt, obj, lambda o: o["metadata"].__setitem__(
                    "finalizers", [f for f in o["metadata"].get("finalizers", []) if f != finalizer]))  # fmt: skip
                return
