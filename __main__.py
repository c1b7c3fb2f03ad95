"""The infra stack: config → Network → Cluster → Database → HelloWorld → Dns → outputs. Composition only."""

import pulumi

from infra import contract, preflight_database
from infra.app_identity import AppIdentity, connect_policy, read_secret_policy
from infra.cluster import Cluster
from infra.config import load_config
from infra.database import Database
from infra.db_credentials import DatabaseAccess, DatabaseFacts
from infra.dns import Dns
from infra.helloworld import HelloWorld, PublicName, image_tag
from infra.network import Network
from infra.preflight import check

# Validate everything before the first resource exists: the config's shape, then against the account.
cfg = load_config()
facts = check(cfg, image_tag=image_tag(cfg))

network = Network("network", cfg, facts.zones)
cluster = Cluster("cluster", cfg, network, facts)
database = Database(preflight_database.COMPONENT, cfg, network, facts)
from_cluster = database.allow_from("database-from-cluster", cluster.security_group_id)
# The app's pods log in as their own role with IAM tokens; only the Job that creates that role reads the master secret.
app_identity = AppIdentity(
    "helloworld-identity",
    cfg,
    cluster.cluster.name,
    cfg.helloworld.namespace,
    contract.APP_SERVICE_ACCOUNT,
    f"log in to the database as {contract.APP_DB_USER}",
    connect_policy(database.arn, database.resource_id, contract.APP_DB_USER),
)
admin_identity = AppIdentity(
    "db-admin-identity",
    cfg,
    cluster.cluster.name,
    contract.admin_namespace(cfg.helloworld.namespace),  # not the app's: pods there could use this account
    contract.ADMIN_SERVICE_ACCOUNT,
    "read the database's master secret",
    database.secret_arn.apply(read_secret_policy),
)
# Before the app: the certificate needs only the zone, so ACM issues it while EKS is being created.
dns = Dns("dns", cfg, cfg.dns) if cfg.dns else None
app = HelloWorld(
    "helloworld",
    cfg,
    provider=cluster.provider,
    nodes=[cluster.node_group, *cluster.ready],
    database=DatabaseFacts(
        host=database.host,
        port=database.port,
        name=cfg.database.db_name,
        secret_arn=database.secret_arn,
        resource_id=database.resource_id,
    ),
    image=facts.image,
    access=DatabaseAccess(associations=[app_identity.association, admin_identity.association], reachable=from_cluster),
    public=PublicName(dns.fqdn, dns.certificate_arn) if dns else None,
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
