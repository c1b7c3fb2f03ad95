"""What the verbs' glue takes from the real world: printed lines, the clock, AWS clients in the stack's region, the
stack's cluster, and the credentials check every verb calling AWS makes first. Tests put fakes in their place."""

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from infra.ops import interrupts
from infra.ops.clients import aws, outputs
from infra.ops.waiting import Clock

if TYPE_CHECKING:
    from infra.ops.clients.kube import Kube

REAL_CLOCK = Clock(time.monotonic, interrupts.sleep)  # a signal during a wait ends it at once


def say(line: str) -> None:
    print(line, flush=True)


def aws_client(service: str, out: Mapping[str, Any]) -> Any:
    return aws.client(service, outputs.text(out, "region"))


def cluster(out: Mapping[str, Any]) -> "Kube":
    """The stack's cluster, through its kubeconfig output (in memory; its user runs `aws eks get-token`)."""
    from infra.ops.clients.kube import Kube  # the kubernetes client takes a second to load: only verbs that call it

    return Kube.from_kubeconfig(outputs.mapping(out, "kubeconfig"))


def check_credentials(out: Mapping[str, Any]) -> None:
    """The first AWS call of every verb that calls AWS: missing or expired credentials are one line naming the fix."""
    aws.caller_identity(aws_client("sts", out))


def env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
