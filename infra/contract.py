"""Names the Pulumi program and the ops CLI both derive: one home for each rule.

Pure Python (no pulumi, no boto3), so the program, the ops CLI, the policy pack and the tools import the same
function. Where the stack exports a value (clusterName, dbIdentifier, helloworldNamespace...), ops reads the output;
it calls these only where it must derive (a stack whose outputs are gone, a leftover's tag, a log group AWS re-made).
A test greps the code for the literals below outside this module.
"""

from __future__ import annotations

# ---------------------------------------------------------------- stacks and AWS resources


def stack_short_name(stack: str) -> str:
    """`foo`, `org/foo` and `org/project/foo` all name the stack `foo` (Pulumi's fully qualified forms)."""
    return stack.rsplit("/", 1)[-1]


def cluster_name(project: str, stack: str) -> str:
    """`<project>-<stack>`, e.g. `infra-foo`: the EKS cluster's name, which the RDS instance and the ECR repository
    share, so stacks never collide and the cluster's `kubernetes.io/cluster/<name>` tags are predictable."""
    return f"{project}-{stack_short_name(stack)}"


PROJECT_TAG = "project"
STACK_TAG = "stack"  # on every AWS resource the program creates: how a sweep or a console finds a stack's things


def resource_tags(project: str, stack: str, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """`Name: <cluster>-<name>`, project and stack on every AWS resource (and on the snapshots ops takes)."""
    return {
        "Name": f"{cluster_name(project, stack)}-{name}",
        **stack_tags(project, stack),
        **(extra or {}),
    }


def stack_tags(project: str, stack: str) -> dict[str, str]:
    """The two tags that say which stack owns a resource."""
    return {PROJECT_TAG: project, STACK_TAG: stack_short_name(stack)}


def kubernetes_cluster_tag(cluster: str) -> str:
    """The tag key EKS, the cloud provider and the load balancers use for a cluster's resources (`shared` on the
    VPC's subnets, `owned` on the ELBs and security groups the cloud provider creates)."""
    return f"kubernetes.io/cluster/{cluster}"


def eks_log_group(cluster: str) -> str:
    """The control-plane log group: EKS writes to exactly this name (and re-creates it while the cluster lives)."""
    return f"/aws/eks/{cluster}/cluster"


RDS_LOGS = ("postgresql", "upgrade")  # the instance's enabled_cloudwatch_logs_exports


def rds_log_group(identifier: str, log: str) -> str:
    """`/aws/rds/instance/<id>/<log>`: RDS's name for an exported log (it creates it if the stack has not)."""
    return f"/aws/rds/instance/{identifier}/{log}"


def db_identifier(cluster: str) -> str:
    """The RDS instance shares the cluster's name: one stack, one database."""
    return cluster


def final_snapshot_prefix(identifier: str) -> str:
    """The final snapshot is `<identifier>-final-<8 hex>`: a fresh suffix per instance, so a second destroy of a
    re-created stack never collides with the first one's snapshot."""
    return f"{identifier}-final-"


def ecr_repository(cluster: str) -> str:
    """The app's ECR repository, known before it exists (the deploy-time image check reads its tags)."""
    return f"{cluster}/{APP}"


# ---------------------------------------------------------------- the app in Kubernetes

APP = "helloworld"  # the app's name: its Service, RC/Deployment prefix, ServiceAccount, image repository
APP_LABELS = {"app": APP}  # the Service's selector: every serving pod of every version carries exactly this
APP_SERVICE = APP
APP_SERVICE_ACCOUNT = APP  # the app's pods; its Pod Identity role may only `rds-db:connect` as APP_DB_USER
APP_DB_USER = "helloworld_app"  # the app's PostgreSQL role: IAM authentication only
ADMIN_SERVICE_ACCOUNT = f"{APP}-db-admin"  # the role-bootstrap Job: reads the master secret
ADMIN_LABELS = {"app": ADMIN_SERVICE_ACCOUNT}  # not APP_LABELS: the app's Service and PDB must not select it
DB_LOGIN_LABELS = {"app": f"{APP}-dblogin"}  # verify's login Job's pods, likewise


def admin_namespace(app_namespace: str) -> str:
    """The bootstrap Job's own namespace. Kubernetes lets a pod name any ServiceAccount of its namespace, so whoever
    may create pods next to ADMIN_SERVICE_ACCOUNT may read the master secret: the stack grants no Role in this
    namespace, and only cluster admins create pods there. The app's namespace stays the app's."""
    return f"{app_namespace}-db-admin"


# ---------------------------------------------------------------- values the policy pack and ops check the program by

PUBLIC_NAME_ANNOTATION = "infra/public-name"  # on the app's Service when it answers a DNS name: the TLS rule reads it
EPHEMERAL_TAG = "Ephemeral"  # on the RDS instance, "true"/"false": the policy pack's deletion-protection rule reads it
CREATOR_TAG = "infra/cluster-creator"  # on the EKS cluster: who holds EKS's bootstrap admin entry (set at creation)
NONROOT_UID = 65532  # every container's user and group: distroless's "nonroot", mapped to no user on the node

# The Database component: its type token and its name in __main__.py (its children's URNs, `pulumi import --parent`).
DATABASE_TYPE = "infra:index:Database"
DATABASE_COMPONENT = "database"


def log_group_resource(component: str, log: str) -> str:
    """The Pulumi name of the log group RDS writes `log` to (also what `pulumi import` is told to adopt it as)."""
    return f"{component}-logs-{log}"


# RDS's lifecycle names (DescribeDBMajorEngineVersions' SupportedEngineLifecycles) and the instance's
# EngineLifecycleSupport (CreateDBInstance: enrolled, RDS's default, or opted out).
RDS_STANDARD_SUPPORT = "open-source-rds-standard-support"
RDS_EXTENDED_SUPPORT = "open-source-rds-extended-support"
RDS_EXTENDED_SUPPORT_OFF = "open-source-rds-extended-support-disabled"

# The nodes' CPU architecture: the node group's AMI (EKS CreateNodegroup amiType) and the platform the app's image is
# built for (OCI os/arch) both derive from it, so the nodes can always run the image.
_AMI_TYPE_AND_PLATFORM = {
    "x86_64": ("AL2023_x86_64_STANDARD", "linux/amd64"),
    "arm64": ("AL2023_ARM_64_STANDARD", "linux/arm64"),
}
NODE_ARCHITECTURE = "x86_64"
NODE_AMI_TYPE, IMAGE_PLATFORM = _AMI_TYPE_AND_PLATFORM[NODE_ARCHITECTURE]
