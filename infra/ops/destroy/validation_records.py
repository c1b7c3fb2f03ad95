"""destroy's notice about certificate validation records: `pulumi destroy` deletes the stack's record, and another
stack's certificate (after a move, the new stack's) may validate with the same one (one record per name and account)."""

from typing import Any

from infra import contract
from infra.ops.clients.state import ValidationRecord
from infra.ops.destroy.target import Target
from infra.ops.errors import one_line
from infra.ops.report import CheckResult


def _dns_name(name: str) -> str:
    return name.rstrip(".").lower()


def _also_validated_by(acm: Any, record: ValidationRecord) -> list[tuple[str, str | None, str]]:
    """Other certificates in the region whose DNS validation is this record: (ARN, their stack tag, status)."""
    found = []
    for page in acm.get_paginator("list_certificates").paginate():
        for summary in page["CertificateSummaryList"]:
            arn = summary["CertificateArn"]
            names = {summary.get("DomainName", ""), *summary.get("SubjectAlternativeNameSummaries", [])}
            if arn == record.certificate_arn or record.domain.lower() not in {n.lower() for n in names}:
                continue
            cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
            options = cert.get("DomainValidationOptions", [])
            if any(_dns_name(o.get("ResourceRecord", {}).get("Name", "")) == record.name for o in options):
                tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
                stack = next((t.get("Value") for t in tags if t["Key"] == contract.STACK_TAG), None)
                found.append((arn, stack, str(cert.get("Status", "unknown status"))))
    return found


def _restore_command(stack: str) -> str:
    # refresh first: the survivor's state still lists the record, so a bare `up` would see nothing to do
    return f"`pulumi refresh -s {stack} --yes && make up STACK={stack}`"


def validation_record_rows(target: Target, acm: Any) -> list[CheckResult]:
    """Before the destroy: whether deleting the stack's certificate validation record breaks another certificate.

    ACM uses one validation record per name and account, so after a move both stacks' certificates rely on it
    and the old stack's destroy deletes it. Only certificates in the stack's region are listed.
    """
    name = "validation record"
    rows = []
    for record in target.validation_records:
        try:
            others = _also_validated_by(acm, record)
        except Exception as err:  # e.g. no acm:ListCertificates: say what to do if there is another stack
            rows.append(
                CheckResult(
                    name,
                    "WARN",
                    f"{record.name}: could not check whether another certificate validates with it "
                    f"({one_line(err)}); pulumi destroy deletes it, so if another stack serves {record.domain} "
                    f"run {_restore_command('<that stack>')} after the destroy",
                )
            )
            continue
        if not others:
            detail = f"{record.name} goes with the stack: no other certificate in {target.region} validates with it"
            rows.append(CheckResult(name, "INFO", detail))
        for arn, stack, status in others:
            survivor = stack or "<its stack>"
            rows.append(
                CheckResult(
                    name,
                    "WARN",
                    f"{record.name} also validates {arn} (stack {stack or 'unknown: no stack tag'}, {status}); "
                    f"pulumi destroy deletes it and that certificate cannot renew until {_restore_command(survivor)} "
                    "puts it back",
                )
            )
    return rows
