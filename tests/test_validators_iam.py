"""Every IAM document the program hands AWS is well-formed and least-privilege.

Identity policies go through parliament (unknown actions, resource/action mismatches, needless `Resource: *`).
parliament reads a trust policy (Principal, no Resource) as malformed, so trust documents get their own rules:
JSON, Version 2012-10-17, Allow only, sts:AssumeRole(WithWebIdentity) only, service principals from a short list,
never a wildcard principal. Managed policies must be AWS-managed ones reviewed here, per trusted service.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest
from harness import Run
from render import (
    IAM_DOCUMENT_INPUTS,
    MANAGED_POLICY_ATTACHMENTS,
    IamDocument,
    foo_run,
    iam_documents,
    managed_policy_arns,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # its regexes' invalid escapes, on first compile
    import parliament  # needs pkg_resources: requirements-dev.txt pins setuptools < 81 for it

TRUST_ACTIONS = {"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:TagSession"}
# The services that may assume the program's roles, and what each needs: EKS Pod Identity's agent also tags the
# session (cluster, namespace, service account), so its trust policy allows sts:TagSession as AWS documents.
SERVICE_ACTIONS = {
    "eks.amazonaws.com": {"sts:AssumeRole"},
    "ec2.amazonaws.com": {"sts:AssumeRole"},
    "pods.eks.amazonaws.com": {"sts:AssumeRole", "sts:TagSession"},
}
# AWS-managed policies the program may attach, by the service that assumes the role.
MANAGED_POLICIES = {
    "eks.amazonaws.com": {"AmazonEKSClusterPolicy"},
    "ec2.amazonaws.com": {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"},
}
AWS_MANAGED_ARN = re.compile(r"^arn:aws:iam::aws:policy/(?P<name>[A-Za-z0-9_+=,.@-]+)$")
OIDC_PROVIDER_ARN = re.compile(r"^arn:aws:iam::\d{12}:oidc-provider/.+$")
# Inputs that look like policies but are not IAM documents.
NOT_IAM = {
    ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "policy"),  # image expiry rules
    ("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "policyArn"),  # an EKS access policy, not IAM
    ("aws:eks/cluster:Cluster", "upgradePolicy"),  # the EKS support type (standard or extended)
    ("aws:route53/record:Record", "weightedRoutingPolicies"),  # DNS weights
}
# IAM resource types that carry no policy document.
IAM_WITHOUT_DOCUMENTS = {
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/instanceProfile:InstanceProfile",
}


@pytest.fixture(scope="module")
def run() -> Run:
    return foo_run()


# ---------------------------------------------------------------- nothing escapes the collection


def test_every_policy_input_is_collected(run: Run) -> None:
    """A new resource with a policy (a bucket policy, a KMS key policy, an IAM user...) must be looked at here."""
    handled = set(IAM_DOCUMENT_INPUTS) | set(MANAGED_POLICY_ATTACHMENTS) | IAM_WITHOUT_DOCUMENTS
    unseen = sorted(
        f"{r.type} {r.name}: {key}"
        for r in run.resources
        for key in r.inputs
        if "polic" in key.lower() and r.type not in handled and (r.type, key) not in NOT_IAM
    )
    unseen += sorted(
        f"{r.type} {r.name}" for r in run.resources if r.type.startswith("aws:iam/") and r.type not in handled
    )
    assert not unseen, "policy inputs no test checks (teach tests/render.py about them):\n" + "\n".join(unseen)


def test_documents_are_found(run: Run) -> None:
    roles = run.of_type("aws:iam/role:Role")
    assert [r.name for r in roles] == [
        "cluster-cluster",
        "cluster-node",
        "db-admin-identity-role",
        "helloworld-identity-role",
    ]
    assert len([d for d in iam_documents(run) if d.kind == "trust"]) == len(roles)


# ---------------------------------------------------------------- identity policies: parliament


def parliament_findings(text: str) -> list[str]:
    policy = parliament.analyze_policy_string(text)
    return [f"{f.issue}: {f.detail} at {f.location}" for f in policy.findings]


def identity_policies(run: Run) -> list[IamDocument]:
    """The program's identity policies; none at all means the check below would pass without checking anything."""
    found = [doc for doc in iam_documents(run) if doc.kind == "identity"]
    assert found, "no identity policy in the program: parliament has nothing to check"
    return found


def test_identity_policies_pass_parliament(run: Run) -> None:
    problems = [
        f"{doc.resource}: {finding}" for doc in identity_policies(run) for finding in parliament_findings(doc.text)
    ]
    assert not problems, "parliament:\n" + "\n".join(problems)


GOOD_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}],
}


def test_parliament_accepts_a_tight_policy() -> None:
    assert parliament_findings(json.dumps(GOOD_POLICY)) == []


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::bucket/*"}, "UNKNOWN_ACTION"),
        ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, "RESOURCE_STAR"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}, "RESOURCE_MISMATCH"),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "MALFORMED"),
    ],
    ids=["unknown-action", "passrole-star", "resource-mismatch", "no-resource"],
)
def test_parliament_check_bites(statement: dict[str, Any], issue: str) -> None:
    findings = parliament_findings(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert any(f.startswith(f"{issue}:") for f in findings), findings


# ---------------------------------------------------------------- trust policies


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trust_problems(text: str) -> list[str]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    problems = []
    if doc.get("Version") != "2012-10-17":
        problems.append(f"Version {doc.get('Version')!r}, not '2012-10-17'")
    statements = _as_list(doc.get("Statement"))
    if not statements or not all(isinstance(s, dict) for s in statements):
        return [*problems, "Statement is missing or not a list of objects"]
    for i, s in enumerate(statements):
        at = f"Statement[{i}]"
        extra = set(s) - {"Sid", "Effect", "Principal", "Action", "Condition"}
        if extra:
            problems.append(f"{at}: unexpected {sorted(extra)} in a trust policy")
        if s.get("Effect") != "Allow":
            problems.append(f"{at}: Effect {s.get('Effect')!r}, not 'Allow'")
        actions = _as_list(s.get("Action"))
        for action in actions:
            if action not in TRUST_ACTIONS:
                problems.append(f"{at}: Action {action!r} — allowed: {sorted(TRUST_ACTIONS)}")
            else:
                parliament.expand_action(action)  # raises if IAM does not know it
        principal = s.get("Principal")
        if not isinstance(principal, dict) or not principal:
            problems.append(f"{at}: Principal {principal!r} — allowed: an object naming services")
            continue
        for kind, values in principal.items():
            for value in _as_list(values):
                if "*" in str(value):
                    problems.append(f"{at}: wildcard principal {kind}: {value!r}")
                elif kind == "Service" and value not in SERVICE_ACTIONS:
                    problems.append(f"{at}: Service {value!r} — allowed: {sorted(SERVICE_ACTIONS)}")
                elif kind == "Service" and not set(actions) <= SERVICE_ACTIONS[value]:
                    unexpected = sorted(set(actions) - SERVICE_ACTIONS[value])
                    problems.append(
                        f"{at}: Action {unexpected} for Service {value!r} — allowed: {sorted(SERVICE_ACTIONS[value])}"
                    )
                elif kind == "Federated" and not (
                    OIDC_PROVIDER_ARN.match(str(value)) and actions == ["sts:AssumeRoleWithWebIdentity"]
                ):
                    problems.append(f"{at}: Federated {value!r} — allowed: an OIDC provider, with web identity only")
                elif kind not in ("Service", "Federated"):
                    problems.append(f"{at}: Principal {kind} — allowed: Service (or Federated for IRSA)")
    return problems


def test_trust_policies_are_tight(run: Run) -> None:
    problems = [
        f"{doc.resource}: {p}" for doc in iam_documents(run) if doc.kind == "trust" for p in trust_problems(doc.text)
    ]
    assert not problems, "\n".join(problems)


def _trust(**statement: Any) -> str:
    base = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**base, **statement}]})


def test_trust_check_accepts_a_service_role() -> None:
    assert trust_problems(_trust()) == []
    pod_identity = _trust(Principal={"Service": "pods.eks.amazonaws.com"}, Action=["sts:AssumeRole", "sts:TagSession"])
    assert trust_problems(pod_identity) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_trust(Principal="*"), "Principal '*'"),
        (_trust(Principal={"AWS": "*"}), "wildcard principal"),
        (_trust(Principal={"AWS": "arn:aws:iam::999999999999:root"}), "Principal AWS"),
        (_trust(Principal={"Service": "lambda.amazonaws.com"}), "Service 'lambda.amazonaws.com'"),
        (_trust(Action="sts:*"), "Action 'sts:*'"),
        (_trust(Action=["sts:AssumeRole", "iam:PassRole"]), "Action 'iam:PassRole'"),
        (_trust(Action=["sts:AssumeRole", "sts:TagSession"]), "Action ['sts:TagSession'] for Service 'ec2.amazon"),
        (_trust(Effect="Deny"), "Effect 'Deny'"),
        (_trust(Resource="*"), "unexpected ['Resource']"),
        (_trust(Principal={"Federated": "arn:aws:iam::123456789012:oidc-provider/x"}), "Federated"),
        (_trust().replace("2012-10-17", "2008-10-17"), "Version '2008-10-17'"),
        ("{not json", "not JSON"),
    ],
    ids=[
        "star",
        "aws-star",
        "other-account",
        "other-service",
        "sts-star",
        "extra-action",
        "tag-session-for-ec2",
        "deny",
        "resource",
        "federated-without-web-identity",
        "old-version",
        "not-json",
    ],
)
def test_trust_check_bites(text: str, problem: str) -> None:
    problems = trust_problems(text)
    assert any(problem in p for p in problems), problems


# ---------------------------------------------------------------- managed policies


def test_managed_policies_are_reviewed_aws_managed_ones(run: Run) -> None:
    """AWS-managed ARNs only, and each one on a role trusted by the service it is meant for."""
    service_of_role = {
        role.urn: json.loads(role.plain("assumeRolePolicy"))["Statement"][0]["Principal"]["Service"]
        for role in run.of_type("aws:iam/role:Role")
    }
    names = {urn: reg.name for urn, reg in run.by_urn().items()}
    attached: dict[str, set[str]] = {}
    problems = []
    for reg, arn in managed_policy_arns(run):
        where = f"{reg.type} {reg.name}"
        m = AWS_MANAGED_ARN.match(str(arn))
        if not m:
            problems.append(f"{where}: {arn!r} is not an AWS-managed policy ARN")
            continue
        # An attachment depends on its role (role=role.name); Role.managedPolicyArns is on the role itself.
        (role,) = [reg.urn] if reg.urn in service_of_role else [u for u in reg.dependencies if u in service_of_role]
        allowed = MANAGED_POLICIES.get(service_of_role[role], set())
        attached.setdefault(names[role], set()).add(m["name"])
        if m["name"] not in allowed:
            problems.append(f"{where}: {m['name']} on a role for {service_of_role[role]} — allowed: {sorted(allowed)}")
    assert not problems, "\n".join(problems)
    assert attached == {
        "cluster-cluster": MANAGED_POLICIES["eks.amazonaws.com"],
        "cluster-node": MANAGED_POLICIES["ec2.amazonaws.com"],
    }
