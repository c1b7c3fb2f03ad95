"""destroy after a move: the old stack's certificate validation record is the one the new stack's certificate uses.

ACM gives every certificate for one name in one account the same validation CNAME (moto does too), so foo and foo2
serving foo.cloud.weave.works validate through one record, which destroying foo deletes.
"""

import dataclasses
from typing import Any

import pytest
from fakes import FakeClock, refuse
from moto_env import REGION, moto_account, own_account
from test_ops_clients_state import CERTIFICATE_STATE, RECORD
from test_ops_destroy import Destroyer, World, world

from infra.ops import cli, live
from infra.ops.clients import aws, stack
from infra.ops.clients.state import ValidationRecord
from infra.ops.destroy import teardown
from infra.ops.destroy.target import Target
from infra.ops.destroy.validation_records import validation_record_rows
from infra.ops.report import CheckResult

__all__ = ["moto_account", "own_account", "world"]  # fixtures: pytest finds them here by name

NAME = "foo.cloud.weave.works"
RESTORE = "`pulumi refresh -s foo2 --yes && make up STACK=foo2`"


def certificate(acm: Any, stack_name: str) -> str:
    tags = [{"Key": "stack", "Value": stack_name}]  # what StackConfig.tags() puts on the certificate
    return str(acm.request_certificate(DomainName=NAME, ValidationMethod="DNS", Tags=tags)["CertificateArn"])


def moved(world: World) -> tuple[Target, str]:
    """foo's target (its own certificate in the state), and the ARN of foo2's certificate for the same name."""
    own = certificate(world.clients.acm, "foo")
    survivor = certificate(world.clients.acm, "foo2")
    target = Target.locate("foo", "infra", world.outputs())
    return dataclasses.replace(target, validation_records=(ValidationRecord(RECORD, NAME, own),)), survivor


def test_a_record_another_stack_validates_with_is_a_warning_naming_it_and_the_fix(world: World) -> None:
    target, survivor = moved(world)
    status = world.clients.acm.describe_certificate(CertificateArn=survivor)["Certificate"]["Status"]

    rows = validation_record_rows(target, world.clients.acm)

    assert [(r.name, r.status, r.detail) for r in rows] == [
        (
            "validation record",
            "WARN",
            f"{RECORD} also validates {survivor} (stack foo2, {status}); pulumi destroy deletes it and that "
            f"certificate cannot renew until {RESTORE} puts it back",
        )
    ]


def test_a_record_no_other_certificate_uses_goes_quietly(world: World) -> None:
    own = certificate(world.clients.acm, "foo")
    world.clients.acm.request_certificate(DomainName="bar.cloud.weave.works", ValidationMethod="DNS")  # another record
    target = dataclasses.replace(world.target(), validation_records=(ValidationRecord(RECORD, NAME, own),))

    rows = validation_record_rows(target, world.clients.acm)

    assert [(r.status, r.detail) for r in rows] == [
        ("INFO", f"{RECORD} goes with the stack: no other certificate in {REGION} validates with it")
    ]


def test_without_acm_permission_the_warning_still_says_what_to_do(world: World) -> None:
    target, _ = moved(world)
    refuse(world.clients.acm, "ListCertificates", "AccessDeniedException", "not authorized", status=403)

    [row] = validation_record_rows(target, world.clients.acm)

    assert row.status == "WARN"
    assert row.detail.startswith(f"{RECORD}: could not check whether another certificate validates with it (")
    assert row.detail.endswith(
        f"pulumi destroy deletes it, so if another stack serves {NAME} run "
        "`pulumi refresh -s <that stack> --yes && make up STACK=<that stack>` after the destroy"
    )


@pytest.fixture
def verb(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`python -m infra.ops destroy foo` with the certificate state, after foo2 took over the name: its events."""
    events: list[str] = []
    own = certificate(world.clients.acm, "foo")
    certificate(world.clients.acm, "foo2")
    resources = [{**CERTIFICATE_STATE[0], "id": own, "outputs": {**CERTIFICATE_STATE[0]["outputs"], "arn": own}}]

    def fake_destroy(name: str, on_output: Any, *, preview_only: bool = False) -> None:
        events.append("preview" if preview_only else "destroy")

    def say(line: str) -> None:
        events.extend(line.splitlines())

    by_service = {"ec2": world.clients.sweep.ec2, "elb": world.clients.sweep.elb, "elbv2": world.clients.sweep.elbv2}
    by_service.update(eks=world.clients.eks, rds=world.clients.rds, logs=world.clients.logs, acm=world.clients.acm)
    monkeypatch.setattr(stack, "read_outputs", lambda name: world.outputs(snapshot=""))
    monkeypatch.setattr(stack, "read_state", lambda name: {"resources": [*resources, *CERTIFICATE_STATE[1:]]})
    monkeypatch.setattr(stack, "destroy", fake_destroy)
    monkeypatch.setattr(live, "say", say)
    monkeypatch.setattr(live, "aws_client", lambda service, out: by_service.get(service) or aws.client(service, REGION))
    return events


def test_dry_run_and_destroy_say_so_before_the_record_is_deleted(verb: list[str]) -> None:
    assert cli.main(["destroy", "foo", "--dry-run"]) == 0
    assert any(ln.startswith("validation record  WARN    ") and RESTORE in ln for ln in verb)
    verb.clear()

    assert cli.main(["destroy", "foo", "--yes"]) == 0  # a warning about another stack: foo itself is gone
    notice = next(i for i, ln in enumerate(verb) if ln.startswith(f"WARN validation record: {RECORD} also validates"))
    assert notice < verb.index("destroy")  # before pulumi destroy deletes it
    assert any(
        ln.startswith("validation record  WARN    ") for ln in verb[verb.index("destroy") :]
    )  # and in the report


def test_the_report_leads_with_the_notices(world: World) -> None:
    notice = CheckResult("validation record", "WARN", "shared")
    report = teardown.destroy(
        world.target(snapshot=""),
        Destroyer(),
        world.clients,
        notices=[notice],
        clock=FakeClock().clock,
        say=lambda _: None,
    )
    assert report.rows[0] == notice and report.exit_code == 0
