"""snapshot: a manual RDS snapshot of the stack's instance, against moto; states moto cannot reach through Stubber.

Moto makes a snapshot `available` at once; a snapshot that stays `creating` and then fails, AccessDenied and the
order of paged results come from botocore's Stubber, which checks every request and answer against the RDS model.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber
from fakes import FakeClock
from moto_env import REGION, db_instance, moto_account, own_account

from infra.ops import cli, live, snapshot
from infra.ops.clients import aws, rds_snapshots, stack
from infra.ops.clients.rds_snapshots import available_snapshots
from infra.ops.errors import OpsError
from infra.ops.snapshot import snapshot_name, take_snapshot

__all__ = ["moto_account", "own_account"]  # fixtures: pytest finds them here by name

AT = datetime(2026, 11, 27, 22, 15, 30, tzinfo=UTC)
NAME = "infra-foo-20261127-221530"
PASTE = "pulumi config set --path database.restoreFrom.snapshot infra-foo-20261127-221530 -s NEWSTACK"
OUT = {"dbIdentifier": "infra-foo"}


def snap(
    rds: Any, *, wait: bool = True, timeout: float = 600.0, out: dict[str, Any] | None = None, at: datetime = AT
) -> tuple[str, list[str]]:
    lines: list[str] = []
    name = take_snapshot(
        out or OUT,
        "foo",
        rds,
        project="infra",
        wait=wait,
        timeout=timeout,
        clock=FakeClock().clock,
        say=lines.append,
        at=at,
    )
    return name, lines


@pytest.fixture
def rds(own_account: str) -> Any:
    return aws.client("rds", REGION)


# ---------------------------------------------------------------- the name


def test_name_is_instance_and_utc_timestamp() -> None:
    assert snapshot_name("infra-foo", AT) == NAME
    # 23:15:30 at UTC+1 is 22:15:30 UTC
    assert snapshot_name("infra-foo", datetime(2026, 11, 27, 23, 15, 30, tzinfo=timezone(timedelta(hours=1)))) == NAME


@pytest.mark.parametrize("instance", ["1nfra-foo", "infra--foo", "infra_foo", "x" * 240])
def test_name_refuses_what_rds_refuses(instance: str) -> None:
    # letter first, letters/digits/hyphens, no "--", at most 255 characters (CreateDBSnapshot, botocore rds model)
    with pytest.raises(OpsError, match="not a valid DB snapshot identifier"):
        snapshot_name(instance, AT)


def test_name_of_the_longest_instance_identifier_fits() -> None:
    instance = "a" * 63  # RDS instance identifiers have at most 63 characters
    assert len(snapshot_name(instance, AT)) == 63 + 16


# ---------------------------------------------------------------- against moto


def test_snapshot_is_tagged_waited_for_and_printed(rds: Any) -> None:
    db_instance(rds, "infra-foo")
    name, lines = snap(rds)
    assert name == NAME
    found = rds.describe_db_snapshots(DBSnapshotIdentifier=NAME)["DBSnapshots"][0]
    assert found["DBInstanceIdentifier"] == "infra-foo"
    assert found["SnapshotType"] == "manual"
    assert {t["Key"]: t["Value"] for t in found["TagList"]} == {"stack": "foo", "project": "infra"}
    assert lines[-2:] == [f"snapshot id: {NAME}", f"to start a new stack from it: {PASTE}"]
    assert f"  snapshot {NAME}: available" in lines


def test_without_wait_it_says_how_to_wait(rds: Any) -> None:
    db_instance(rds, "infra-foo")
    name, lines = snap(rds, wait=False)
    assert name == NAME
    assert any(f"aws rds wait db-snapshot-available --db-snapshot-identifier {NAME}" in ln for ln in lines)
    assert lines[-1] == f"to start a new stack from it: {PASTE}"


def test_missing_instance_names_the_fix(rds: Any) -> None:
    db_instance(rds, "infra-bar")
    with pytest.raises(OpsError) as err:
        snap(rds)
    assert str(err.value).startswith("snapshot of infra-foo failed: no RDS instance infra-foo")
    assert "make up STACK=foo" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_output_is_named(rds: Any) -> None:
    with pytest.raises(OpsError, match="stack output 'dbIdentifier' is missing"):
        snap(rds, out={"dbEndpoint": "x"})


def test_quota_names_the_fix(rds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db_instance(rds, "infra-foo")
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "0")
    with pytest.raises(OpsError) as err:
        snap(rds)
    assert "manual DB snapshot quota" in str(err.value)
    assert "aws rds delete-db-snapshot" in str(err.value)


def test_the_name_taken_before_this_run_says_retry(rds: Any) -> None:
    db_instance(rds, "infra-foo")
    later = datetime.now(UTC) + timedelta(hours=1)  # this run starts an hour after the snapshot of its name
    rds.create_db_snapshot(DBInstanceIdentifier="infra-foo", DBSnapshotIdentifier=snapshot_name("infra-foo", later))
    with pytest.raises(OpsError, match=r"already exists .*: retry$"):
        snap(rds, at=later)


def test_lists_available_manual_and_final_snapshots_of_the_instance_only(rds: Any) -> None:
    db_instance(rds, "infra-foo")
    db_instance(rds, "infra-foobar")  # a look-alike: its snapshots are not ours
    rds.create_db_snapshot(DBSnapshotIdentifier="infra-foobar-1", DBInstanceIdentifier="infra-foobar")
    snap(rds)
    rds.delete_db_instance(DBInstanceIdentifier="infra-foo", FinalDBSnapshotIdentifier="infra-foo-final-0a1b2c3d")
    found = [s.identifier for s in available_snapshots(rds, "infra-foo")]  # the instance is gone, its snapshots not
    assert sorted(found) == ["infra-foo-20261127-221530", "infra-foo-final-0a1b2c3d"]


# ---------------------------------------------------------------- through Stubber


def described(status: str, progress: int, created: datetime | None = AT) -> dict[str, Any]:
    found: dict[str, Any] = {"DBSnapshotIdentifier": NAME, "DBInstanceIdentifier": "infra-foo", "Status": status}
    found["PercentProgress"] = progress
    if created:
        found["SnapshotCreateTime"] = created
    return {"DBSnapshots": [found]}


def stub_create(stub: Stubber) -> None:
    tags = [{"Key": "project", "Value": "infra"}, {"Key": "stack", "Value": "foo"}]
    request = {"DBSnapshotIdentifier": NAME, "DBInstanceIdentifier": "infra-foo", "Tags": tags}
    answer = {"DBSnapshot": described("creating", 0, None)["DBSnapshots"][0]}
    stub.add_response("create_db_snapshot", answer, request)


def stub_states(stub: Stubber, states: list[tuple[str, int]]) -> None:
    for status, progress in states:
        stub.add_response("describe_db_snapshots", described(status, progress), {"DBSnapshotIdentifier": NAME})


def test_progress_is_printed_until_available() -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub_create(stub)
        stub_states(stub, [("creating", 10), ("creating", 60), ("available", 100)])
        lines: list[str] = []
        fake = FakeClock()
        take_snapshot(
            OUT, "foo", rds, project="infra", wait=True, timeout=600, clock=fake.clock, say=lines.append, at=AT
        )
        stub.assert_no_pending_responses()
    assert any(ln.startswith(f"  waiting for snapshot {NAME}: creating 10%") for ln in lines)
    assert any(ln.startswith(f"  waiting for snapshot {NAME}: creating 60%") for ln in lines)
    assert f"  snapshot {NAME}: available" in lines
    assert len(fake.sleeps) == 2


def test_a_snapshot_that_fails_stops_the_wait_with_one_line() -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub_create(stub)
        stub_states(stub, [("creating", 5), ("creating", 5), ("failed", 5)])
        with pytest.raises(OpsError) as err:
            snap(rds)
        stub.assert_no_pending_responses()  # it stopped at `failed`, not at the deadline
    assert str(err.value).startswith(f"snapshot {NAME} is failed, not available")
    assert "aws rds describe-events --source-type db-snapshot" in str(err.value)


def test_a_snapshot_that_never_finishes_times_out_saying_it_goes_on() -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub_create(stub)
        stub_states(stub, [("creating", 40)] * 5)  # 60 s at a 15 s interval: a first look and 4 more
        with pytest.raises(OpsError) as err:
            snap(rds, timeout=60)
        stub.assert_no_pending_responses()
    assert str(err.value).startswith(f"timed out after 60s waiting for snapshot {NAME}: creating 40%")
    assert f"aws rds describe-db-snapshots --db-snapshot-identifier {NAME}" in str(err.value)


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_access_denied_names_the_permissions(code: str) -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub.add_client_error("create_db_snapshot", code, "not authorized", http_status_code=403)
        with pytest.raises(OpsError) as err:
            snap(rds)
    assert "rds:CreateDBSnapshot" in str(err.value) and "rds:AddTagsToResource" in str(err.value)


def test_busy_instance_says_wait() -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub.add_client_error("create_db_snapshot", "InvalidDBInstanceState", "modifying", http_status_code=400)
        with pytest.raises(OpsError, match="infra-foo is busy"):
            snap(rds)


def test_list_is_newest_first_across_pages_and_skips_unfinished() -> None:
    rds = aws.client("rds", REGION)

    def entry(name: str, hours: int, status: str = "available") -> dict[str, Any]:
        created = AT + timedelta(hours=hours)
        return {"DBSnapshotIdentifier": name, "Status": status, "SnapshotCreateTime": created}

    request = {"DBInstanceIdentifier": "infra-foo", "SnapshotType": "manual"}
    with Stubber(rds) as stub:
        first = {"DBSnapshots": [entry("b", 2), entry("c", 9, "creating")], "Marker": "m1"}
        stub.add_response("describe_db_snapshots", first, request)
        second = {"DBSnapshots": [entry("a", 1), entry("final", 5)]}
        stub.add_response("describe_db_snapshots", second, {**request, "Marker": "m1"})
        found = available_snapshots(rds, "infra-foo")
    assert [s.identifier for s in found] == ["final", "b", "a"]


def test_a_snapshot_deleted_while_waited_for_stops_the_wait() -> None:
    rds = aws.client("rds", REGION)
    with Stubber(rds) as stub:
        stub_create(stub)
        stub_states(stub, [("creating", 5)])
        stub.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", "gone", http_status_code=404)
        with pytest.raises(OpsError, match=f"^snapshot {NAME} is gone \\(deleted\\), not available"):
            snap(rds)
        stub.assert_no_pending_responses()


# ---------------------------------------------------------------- the answer to CreateDBSnapshot lost


def test_a_lost_answer_then_already_exists_is_this_runs_snapshot(rds: Any) -> None:
    """The connection drops after RDS took the request; botocore's retry then meets DBSnapshotAlreadyExists."""
    db_instance(rds, "infra-foo")
    first_attempt = aws.client("rds", REGION)

    def lost_first_attempt(**_: Any) -> None:  # RDS took it; the answer never came back
        first_attempt.create_db_snapshot(DBInstanceIdentifier="infra-foo", DBSnapshotIdentifier=NAME)

    rds.meta.events.register("before-call.rds.CreateDBSnapshot", lost_first_attempt)

    name, lines = snap(rds, wait=False)

    assert name == NAME
    assert lines[0] == f"snapshot {NAME} of infra-foo: available"  # moto's snapshots are available at once
    assert lines[-2:] == [f"snapshot id: {NAME}", f"to start a new stack from it: {PASTE}"]


def test_a_cut_answer_is_this_runs_snapshot_when_rds_has_it(rds: Any) -> None:
    db_instance(rds, "infra-foo")

    def cut_body(**_: Any) -> None:  # RDS made it; its answer arrives cut in half
        raise ResponseParserError("Unable to parse response (unclosed token: line 1, column 599), invalid XML")

    rds.meta.events.register("after-call.rds.CreateDBSnapshot", cut_body)

    name, lines = snap(rds)

    assert name == NAME and lines[-2:] == [f"snapshot id: {NAME}", f"to start a new stack from it: {PASTE}"]
    manual = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in manual] == [NAME]  # one snapshot: none taken twice


def test_a_request_that_never_reached_rds_says_none_was_taken(rds: Any) -> None:
    db_instance(rds, "infra-foo")

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://rds.us-west-2.amazonaws.com/")

    rds.meta.events.register("before-call.rds.CreateDBSnapshot", unreachable)

    with pytest.raises(OpsError) as caught:
        snap(rds)

    assert str(caught.value) == (
        "snapshot of infra-foo failed: EndpointConnectionError: Could not connect to the endpoint URL: "
        f'"https://rds.us-west-2.amazonaws.com/"; RDS has no snapshot {NAME} of it: retry'
    )


def test_the_same_name_of_another_instance_is_not_taken_for_this_runs(rds: Any) -> None:
    db_instance(rds, "infra-foo")
    db_instance(rds, "infra-bar")
    rds.create_db_snapshot(DBInstanceIdentifier="infra-bar", DBSnapshotIdentifier=NAME)

    with pytest.raises(OpsError) as caught:
        snap(rds)

    assert str(caught.value) == (
        "snapshot of infra-foo failed: a snapshot with this name already exists (taken this very second): retry"
    )


def test_snapshot_verb_checks_credentials_then_snapshots(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": "us-west-2", "dbIdentifier": "infra-foo"})
    monkeypatch.setattr(live, "aws_client", lambda service, out: service)

    def identity(sts: Any) -> str:
        calls.append(("identity", sts))
        return "arn"

    monkeypatch.setattr(aws, "caller_identity", identity)

    def take(out: Any, name: str, rds: Any, **kw: Any) -> str:
        calls.append(("take", name, rds, kw["wait"], kw["timeout"]))
        return "infra-foo-20261127-221530"

    monkeypatch.setattr(snapshot, "take_snapshot", take)
    assert cli.main(["snapshot", "foo", "--wait"]) == 0
    assert calls == [("identity", "sts"), ("take", "foo", "rds", True, 3600.0)]


def test_snapshot_list_works_after_a_destroy_with_the_region_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(stack, "read_outputs", lambda name: {})  # destroyed: no outputs
    monkeypatch.setattr(live, "aws_client", lambda service, out: seen.setdefault(service, out["region"]))
    monkeypatch.setattr(aws, "caller_identity", lambda sts: "arn")
    found = [rds_snapshots.Snapshot("infra-foo-final-1a2b3c4d", datetime(2026, 11, 27, 21, 0, tzinfo=UTC), "available")]
    monkeypatch.setattr(
        rds_snapshots, "available_snapshots", lambda rds, instance: found if instance == "infra-foo" else []
    )
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert cli.main(["snapshot", "foo", "--list"]) == 1
    assert "set AWS_REGION" in capsys.readouterr().err
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert cli.main(["snapshot", "foo", "--list"]) == 0
    assert seen["rds"] == "us-west-2"
    assert "infra-foo-final-1a2b3c4d  2026-11-27 21:00" in capsys.readouterr().out
