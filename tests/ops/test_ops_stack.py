"""The Automation API boundary, with select_stack replaced (no pulumi CLI here)."""

from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from infra.ops import stack
from infra.ops.stack import StackError, summarize

VIOLATION_STDOUT = "\n".join(
    [
        "Destroying (foo):",
        "    aws:ec2:Vpc network-vpc deleting (1s)",
        "    aws:ec2:Vpc network-vpc **deleting failed** error: deleting urn:pulumi:foo::infra::aws:ec2/vpc:Vpc::"
        "network-vpc: 1 error occurred:",
        "    \t* deleting EC2 VPC (vpc-0abc): operation error EC2: DeleteVpc, api error DependencyViolation: "
        "The vpc 'vpc-0abc' has dependencies and cannot be deleted.",
    ]
)


class FakeStack:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.destroy_kwargs: dict[str, Any] = {}

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {"url": auto.OutputValue("http://foo", False), "kubeconfig": auto.OutputValue("{}", True)}

    def destroy(self, **kwargs: Any) -> None:
        self.destroy_kwargs = kwargs
        kwargs["on_output"]("Destroying (foo):")
        if self.error:
            raise self.error


def use(monkeypatch: pytest.MonkeyPatch, fake: FakeStack) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def select(**kwargs: Any) -> FakeStack:
        calls.append(kwargs)
        return fake

    monkeypatch.setattr(auto, "select_stack", select)
    return calls


def test_outputs_are_plain_values_and_work_dir_is_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = use(monkeypatch, FakeStack())
    assert stack.read_outputs("foo") == {"url": "http://foo", "kubeconfig": "{}"}
    assert calls == [{"stack_name": "foo", "work_dir": str(stack.REPO_ROOT)}]
    assert (stack.REPO_ROOT / "Pulumi.yaml").exists()


def test_destroy_streams_output_and_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStack()
    use(monkeypatch, fake)
    lines: list[str] = []
    stack.destroy("foo", lines.append, preview_only=True)
    assert lines == ["Destroying (foo):"]
    assert fake.destroy_kwargs["show_secrets"] is False and fake.destroy_kwargs["preview_only"] is True


def test_dependency_violation_is_flagged_and_summarized(monkeypatch: pytest.MonkeyPatch) -> None:
    error = auto.errors.CommandError(CommandResult(VIOLATION_STDOUT, "error: update failed\n", 255))
    use(monkeypatch, FakeStack(error))
    with pytest.raises(StackError) as caught:
        stack.destroy("foo", lambda _: None)
    assert caught.value.dependency_violation
    message = str(caught.value)
    assert message.startswith("pulumi destroy of stack 'foo' failed: * deleting EC2 VPC (vpc-0abc)")
    assert "\n" not in message


def test_other_failures_are_not_dependency_violations(monkeypatch: pytest.MonkeyPatch) -> None:
    error = auto.errors.CommandError(CommandResult("", "error: the stack is currently locked by 1 lock(s)\n", 255))
    use(monkeypatch, FakeStack(error))
    with pytest.raises(StackError) as caught:
        stack.destroy("foo", lambda _: None)
    assert not caught.value.dependency_violation
    assert str(caught.value).endswith("error: the stack is currently locked by 1 lock(s)")


def test_summarize_prefers_specific_errors() -> None:
    result = CommandResult("", "error: update failed\nerror: creating EKS Cluster: AccessDenied\n", 1)
    assert summarize(auto.errors.CommandError(result)) == "error: creating EKS Cluster: AccessDenied"
    assert summarize(RuntimeError("x" * 400)).endswith("...")
    assert summarize(FileNotFoundError(2, "No such file", "Pulumi.yaml")) == "[Errno 2] No such file: 'Pulumi.yaml'"
