"""Which AWS load balancer a `type: LoadBalancer` Service gets, read the way EKS's two provisioners read it.

- The in-tree AWS cloud provider (kube-controller-manager on EKS) makes a Classic ELB, or an NLB when the
  annotation `service.beta.kubernetes.io/aws-load-balancer-type` is exactly `nlb` (compared case-sensitively, as
  cloud-provider-aws does: `NLB` gets a Classic ELB). It is internal when `aws-load-balancer-internal` is set to
  anything but `false`, internet-facing when it is absent, empty or `false`. It leaves alone a Service with a
  `spec.loadBalancerClass` and the types `external` and `nlb-ip` (ImplementedElsewhere).
- The AWS Load Balancer Controller (kubernetes-sigs/aws-load-balancer-controller, not installed by this program)
  makes an NLB for `spec.loadBalancerClass: service.k8s.aws/nlb`, for type `external` (targets from
  `aws-load-balancer-nlb-target-type`, instance by default) and for the deprecated `nlb-ip`. Its NLB is internal
  unless `aws-load-balancer-scheme: internet-facing` (since v2.2; the deprecated `aws-load-balancer-internal`
  still counts when the scheme is absent).

An internet-facing load balancer holds one public IPv4 address in each AZ it is in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.cost.graph import get

ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
CONTROLLER_CLASS = "service.k8s.aws/nlb"
CONTROLLER = "the AWS Load Balancer Controller"
IN_TREE = "the in-tree cloud provider"


@dataclass(frozen=True)
class LoadBalancer:
    kind: str  # "classic" | "network": the price key is elb.<kind>
    provisioner: str  # IN_TREE | CONTROLLER: who makes it
    internal: bool
    targets: str = ""  # an NLB's target type through the controller: "instance" | "ip"

    @property
    def label(self) -> str:
        return "Classic ELB" if self.kind == "classic" else "NLB"

    @property
    def needs_controller(self) -> bool:
        return self.provisioner == CONTROLLER


@dataclass(frozen=True)
class NotProvisioned:
    """A LoadBalancer Service neither provisioner takes: no AWS load balancer, nothing billed."""

    why: str


def _annotations(service_inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    found = get(service_inputs, "metadata", "annotations")
    return found if isinstance(found, Mapping) else {}


def _in_tree_internal(annotations: Mapping[str, Any]) -> bool:
    return str(annotations.get(ANNOTATION + "internal", "")) not in ("", "false")


def _controller_internal(annotations: Mapping[str, Any]) -> bool:
    scheme = annotations.get(ANNOTATION + "scheme")
    if scheme is not None:
        return str(scheme).lower() != "internet-facing"
    legacy = annotations.get(ANNOTATION + "internal")
    return True if legacy is None else str(legacy).lower() == "true"  # the controller's default is internal


def load_balancer_of(service_inputs: Mapping[str, Any]) -> LoadBalancer | NotProvisioned | None:
    """The load balancer a Service's inputs ask for; None when the Service is not `type: LoadBalancer`."""
    if get(service_inputs, "spec", "type") != "LoadBalancer":
        return None
    annotations = _annotations(service_inputs)
    kind = str(annotations.get(ANNOTATION + "type", ""))  # exact: the provisioners compare without folding case
    lb_class = get(service_inputs, "spec", "loadBalancerClass")
    if lb_class is not None and lb_class != CONTROLLER_CLASS:
        return NotProvisioned(f"loadBalancerClass {lb_class} is neither provisioner's: not priced")
    if lb_class == CONTROLLER_CLASS or kind in ("external", "nlb-ip"):
        targets = "ip" if kind == "nlb-ip" else str(annotations.get(ANNOTATION + "nlb-target-type", "instance"))
        return LoadBalancer("network", CONTROLLER, _controller_internal(annotations), targets.lower())
    if kind == "nlb":
        return LoadBalancer("network", IN_TREE, _in_tree_internal(annotations))
    return LoadBalancer("classic", IN_TREE, _in_tree_internal(annotations))
