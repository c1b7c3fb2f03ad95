"""Names the Pulumi program and the ops CLI both derive from a project and a stack: one home for each rule.

Pure Python (no pulumi, no boto3), so the program's config and every ops verb import the same function.
"""


def stack_short_name(stack: str) -> str:
    """`foo`, `org/foo` and `org/project/foo` all name the stack `foo` (Pulumi's fully qualified forms)."""
    return stack.rsplit("/", 1)[-1]


def cluster_name(project: str, stack: str) -> str:
    """`<project>-<stack>`, e.g. `infra-foo`: the EKS cluster's name, which the RDS instance and the ECR repository
    share, so stacks never collide and the cluster's `kubernetes.io/cluster/<name>` tags are predictable."""
    return f"{project}-{stack_short_name(stack)}"
