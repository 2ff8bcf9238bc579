"""A tiny kopf operator for the kubeapi fixture's tests.

Every handler call is appended to the file named by $WIDGET_CALLS, so a test
can count calls (a server with broken resourceVersion/generation semantics
makes kopf repeat handlers).
"""

import os

import kopf

GROUP, VERSION, PLURAL = "kubeapi.test", "v1", "widgets"


def _record(what: str, name: str) -> None:
    with open(os.environ["WIDGET_CALLS"], "a") as f:
        f.write(f"{what} {name}\n")


@kopf.on.login()
def login(**kwargs):
    # Read $KUBECONFIG now, not the path the kubernetes client froze at import time.
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.watching.server_timeout = 30
    settings.posting.level = 20  # logging.INFO


@kopf.on.create(GROUP, VERSION, PLURAL)
def created(body, spec, name, patch, **_):
    _record("create", name)
    patch.status["phase"] = "Created"
    patch.status["handled"] = 1
    patch.status["observedGeneration"] = body["metadata"]["generation"]
    kopf.info(body, reason="WidgetCreated", message=f"size={spec['size']}")


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def updated(body, old, new, name, patch, **_):
    _record("update", name)
    patch.status["phase"] = "Updated"
    patch.status["message"] = f"size {old.get('size')}->{new.get('size')}"
    patch.status["observedGeneration"] = body["metadata"]["generation"]


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(name, **_):
    _record("delete", name)
