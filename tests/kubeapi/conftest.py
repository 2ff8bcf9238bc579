from tests.kubeapi.fixtures import kube_api, kube_api_module, kube_client  # noqa: F401
