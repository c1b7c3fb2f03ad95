"""upgrade-check's view of PodDisruptionBudgets: all namespaces, as plain snapshots (policy/v1, official client)."""

from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client

from infra.ops.clients.kube import api_client  # the same no-retry client as every other verb
from infra.ops.errors import OpsError

REQUEST_TIMEOUT = 10.0  # seconds per API call: a hung API server must not hang the check
_PAGE = 500  # objects per list call; the API server hands back a continue token for the rest
_MAX_PAGES = 100  # bounded loop: 50,000 budgets is far beyond any cluster this project runs


@dataclass(frozen=True)
class Budget:
    namespace: str
    name: str
    disruptions_allowed: int
    expected_pods: int
    current_healthy: int
    desired_healthy: int

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class BudgetReader(Protocol):
    """What upgrade-check reads from a cluster (KubeBudgets, or a fake in tests)."""

    def disruption_budgets(self) -> list[Budget]: ...


def budget_from_api(obj: client.V1PodDisruptionBudget) -> Budget:
    meta, status = obj.metadata, obj.status
    # A budget the disruption controller has not evaluated yet has no status: it counts no pods.
    return Budget(
        namespace=(meta.namespace if meta else None) or "",
        name=(meta.name if meta else None) or "",
        disruptions_allowed=(status.disruptions_allowed if status else None) or 0,
        expected_pods=(status.expected_pods if status else None) or 0,
        current_healthy=(status.current_healthy if status else None) or 0,
        desired_healthy=(status.desired_healthy if status else None) or 0,
    )


class KubeBudgets:
    def __init__(self, policy: client.PolicyV1Api, timeout: float = REQUEST_TIMEOUT) -> None:
        self.policy = policy
        self.timeout = timeout

    @classmethod
    def from_kubeconfig(cls, kubeconfig: dict[str, Any]) -> "KubeBudgets":
        return cls(client.PolicyV1Api(api_client(kubeconfig)))

    def disruption_budgets(self) -> list[Budget]:
        found: list[Budget] = []
        token: str | None = None
        for _ in range(_MAX_PAGES):
            page = self.policy.list_pod_disruption_budget_for_all_namespaces(
                limit=_PAGE, _continue=token, _request_timeout=self.timeout
            )
            found += [budget_from_api(b) for b in page.items]
            token = page.metadata.var_continue if page.metadata else None
            if not token:
                return found
        raise OpsError(
            f"more than {_PAGE * _MAX_PAGES} PodDisruptionBudgets; refusing to list on: find those that would stall "
            "the node roll by hand (`kubectl get pdb -A`, ALLOWED DISRUPTIONS 0)"
        )
