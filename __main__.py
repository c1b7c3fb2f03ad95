"""The infra stack: config → account facts → Network → Cluster → Database → identities → Dns → HelloWorld →
outputs. Composition only."""

import pulumi

from infra import contract
from infra.account import read_account
from infra.app_identity import AppIdentity, AppIdentityArgs, connect_policy, read_secret_policy
from infra.cluster import Cluster, ClusterArgs
from infra.config import load_config
from infra.database import Database, DatabaseArgs
from infra.db_access import DatabaseAccess, DatabaseEndpoint
from infra.dns import Dns, DnsArgs
from infra.helloworld import HelloWorld, HelloWorldArgs, PublicName, https_redirect, image_tag
from infra.network import Network, NetworkArgs

# Validate everything before the first resource exists: the config's shape, then against the account.
cfg = load_config()
tls_redirect = https_redirect(cfg.dns)
facts = read_account(cfg, image_tag=image_tag(cfg.helloworld, tls_redirect))

network = Network(
    "network",
    NetworkArgs(
        cidr=cfg.network.cidr,
        zones=facts.zones,
        nat_gateways=cfg.network.nat_gateways,
        subnet_layout=cfg.network.subnet_layout,
        cluster_name=cfg.cluster_name,
        tags=cfg.tags,
    ),
)
cluster = Cluster(
    "cluster",
    ClusterArgs(
        name=cfg.cluster_name,
        settings=cfg.cluster,
        stack=cfg.stack,
        region=cfg.region,
        control_plane_subnet_ids=network.subnet_ids_in(facts.control_plane_zones),
        node_subnet_ids=network.private_subnet_ids,
        creator_arn=facts.creator_arn,
        addon_versions=facts.addon_versions,
        deletion_protection=not cfg.database.ephemeral,  # durable like the database: deleting it is a reviewed step
        tags=cfg.tags,
    ),
)
database = Database(
    contract.DATABASE_COMPONENT,
    DatabaseArgs(
        cluster_name=cfg.cluster_name,
        settings=cfg.database,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        restore_snapshot=facts.database.restore_snapshot,
        major_upgrade=facts.database.major_upgrade,
        tags=cfg.tags,
    ),
)
from_cluster = database.allow_from("database-from-cluster", cluster.security_group_id)
# The app's pods log in as their own role with IAM tokens; only the Job that creates that role reads the master secret.
app_identity = AppIdentity(
    "helloworld-identity",
    AppIdentityArgs(
        cluster_name=cfg.cluster_name,
        eks_cluster=cluster.cluster.name,
        namespace=cfg.helloworld.namespace,
        service_account=contract.APP_SERVICE_ACCOUNT,
        purpose=f"log in to the database as {contract.APP_DB_USER}",
        policy=connect_policy(database.arn, database.resource_id, contract.APP_DB_USER),
        tags=cfg.tags,
    ),
)
admin_identity = AppIdentity(
    "db-admin-identity",
    AppIdentityArgs(
        cluster_name=cfg.cluster_name,
        eks_cluster=cluster.cluster.name,
        namespace=contract.admin_namespace(cfg.helloworld.namespace),  # not the app's: pods there could use this
        service_account=contract.ADMIN_SERVICE_ACCOUNT,
        purpose="read the database's master secret",
        policy=database.secret_arn.apply(read_secret_policy),
        tags=cfg.tags,
    ),
)
# Before the app: the certificate needs only the zone, so ACM issues it while EKS is being created.
dns = (
    Dns("dns", DnsArgs(settings=cfg.dns, stack=cfg.stack, cluster_name=cfg.cluster_name, tags=cfg.tags))
    if cfg.dns
    else None
)
app = HelloWorld(
    "helloworld",
    HelloWorldArgs(
        settings=cfg.helloworld,
        cluster_name=cfg.cluster_name,
        region=cfg.region,
        vpc_cidr=cfg.network.cidr,
        https_redirect=tls_redirect,
        dockerhub_token=cfg.dockerhub_token,
        provider=cluster.provider,
        nodes=[cluster.node_group, *cluster.ready],
        database=DatabaseEndpoint(
            host=database.host,
            port=database.port,
            name=cfg.database.db_name,
            secret_arn=database.secret_arn,
            resource_id=database.resource_id,
        ),
        image=facts.image,
        access=DatabaseAccess(
            associations=[app_identity.association, admin_identity.association], reachable=from_cluster
        ),
        public=PublicName(dns.fqdn, dns.certificate_arn) if dns else None,
        tags=cfg.tags,
    ),
)
if dns:
    dns.point_at(app.endpoint)

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("clusterName", cluster.cluster.name)
pulumi.export("region", cfg.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("nodeGroupName", cluster.node_group.node_group_name)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("clusterVersion", cfg.cluster.version)
pulumi.export("addonVersions", cluster.addons)
pulumi.export("helloworldEndpoint", app.endpoint)
pulumi.export("helloworldImage", app.image_ref)
pulumi.export("helloworldWorkload", app.workload)
pulumi.export("helloworldNamespace", cfg.helloworld.namespace)
pulumi.export("helloworldGreeting", cfg.helloworld.greeting)
pulumi.export("helloworldReplicas", cfg.helloworld.replicas)
pulumi.export("dbEndpoint", database.host)
pulumi.export("dbPort", database.port)
pulumi.export("dbName", cfg.database.db_name)
pulumi.export("dbSecretArn", database.secret_arn)
pulumi.export("dbIdentifier", database.identifier)
pulumi.export("dbEphemeral", cfg.database.ephemeral)
pulumi.export(
    "dbFinalSnapshotIdentifier", "" if cfg.database.skip_final_snapshot else database.final_snapshot_identifier
)
# No certificate can name an ELB hostname: without a DNS name (or with dns.tls false) the url stays http.
scheme = "https://" if dns and dns.certificate_arn is not None else "http://"
pulumi.export("url", pulumi.Output.concat(scheme, dns.fqdn if dns else app.endpoint))
if dns and dns.name_servers is not None:
    pulumi.export("zoneNameServers", dns.name_servers)
