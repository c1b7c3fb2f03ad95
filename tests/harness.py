"""Run the real `__main__.py` under Pulumi mocks with a stack's real config, and record the whole graph.

Mocks answer like AWS and Kubernetes would (camelCase outputs, deterministic values), so a run is repeatable and
two runs can be compared. `RecordingMonitor` keeps every RegisterResource request: type, name, parent,
dependencies, provider, options and the inputs exactly as the engine would receive them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import runpy
import unittest.mock
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import grpc
import pulumi
import yaml
from botocore.stub import Stubber
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from infra import preflight_database

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "__main__.py"
PROJECT = "infra"
ACCOUNT = "123456789012"
NAMED_BY_ID = {
    "aws:iam/role:Role",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
}
ZONES = ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]


def stack_config(stack: str = "foo") -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, as plain data (`secure:` values become placeholders)."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(data.get("config") or {})


def _config_strings(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """What the Pulumi engine hands a program: objects as JSON strings, scalars as strings."""
    strings: dict[str, str] = {}
    secret_keys = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            strings[key] = "secret-placeholder"
            secret_keys.append(key)
        elif isinstance(value, dict | list):
            strings[key] = json.dumps(value)
        elif isinstance(value, bool):
            strings[key] = "true" if value else "false"
        else:
            strings[key] = str(value)
    return strings, secret_keys


def _arn(service: str, name: str) -> str:
    return f"arn:aws:{service}:us-west-2:{ACCOUNT}:{name}"


def _days(n: int) -> str:
    """A date n days from today, as DescribeClusterVersions' timestamps arrive (RFC 3339): the table stays true
    to its meaning whenever the tests run."""
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=n)).isoformat() + "T00:00:00Z"


def eks_versions() -> list[dict[str, Any]]:
    """What DescribeClusterVersions (includeAll) says, shaped like the 2026-11-27 lifecycle: 1.30/1.31 past
    extended support, 1.32/1.33 in extended support, 1.34 days from its end of standard support."""
    rows = [
        ("1.30", "UNSUPPORTED", -500, -135),
        ("1.31", "UNSUPPORTED", -400, -35),
        ("1.32", "EXTENDED_SUPPORT", -240, 125),
        ("1.33", "EXTENDED_SUPPORT", -121, 244),
        ("1.34", "STANDARD_SUPPORT", 5, 370),
        ("1.35", "STANDARD_SUPPORT", 120, 485),
        ("1.36", "STANDARD_SUPPORT", 240, 605),
    ]
    return [
        {
            "clusterVersion": version,
            "clusterType": "eks",
            "versionStatus": status,
            "endOfStandardSupportDate": _days(standard),
            "endOfExtendedSupportDate": _days(extended),
            "defaultVersion": version == "1.35",
        }
        for version, status, standard, extended in rows
    ]


def rds_postgres_majors() -> list[dict[str, Any]]:
    """What DescribeDBMajorEngineVersions (Engine postgres) says, shaped like RDS's calendar on 2026-12-05: 13 in
    Extended Support since 2026-02-28, 14's standard support ending 2027-02-28, 18 the newest."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [("13", -280, 816), ("14", 85, 1181), ("15", 451, 1547), ("16", 816, 1912), ("17", 1181, 2277)]
    rows.append(("18", 1546, 2642))
    return [
        {
            "Engine": "postgres",
            "MajorEngineVersion": major,
            "SupportedEngineLifecycles": [
                {
                    "LifecycleSupportName": "open-source-rds-standard-support",
                    "LifecycleSupportStartDate": today + dt.timedelta(days=standard - 5 * 365),
                    "LifecycleSupportEndDate": today + dt.timedelta(days=standard),
                },
                {
                    "LifecycleSupportName": "open-source-rds-extended-support",
                    "LifecycleSupportStartDate": today + dt.timedelta(days=standard + 1),
                    "LifecycleSupportEndDate": today + dt.timedelta(days=extended),
                },
            ],
        }
        for major, standard, extended in rows
    ]


@functools.cache
def _rds_client() -> Any:
    """One client per test process (building one costs ~10 ms, a twentieth of a run); each run stubs it afresh."""
    return botocore.session.get_session().create_client(
        "rds", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@contextlib.contextmanager
def rds_answers(world: World) -> Iterator[None]:
    """The program asks RDS through boto3 (no provider invoke exists): answer from `world` with a Stubber, which
    checks the request and the answer against RDS's own API model."""
    client = _rds_client()
    stubber = Stubber(client)
    if world.pg_majors_error:
        stubber.add_client_error("describe_db_major_engine_versions", world.pg_majors_error, "not allowed")
    else:
        stubber.add_response(
            "describe_db_major_engine_versions", {"DBMajorEngineVersions": world.pg_majors}, {"Engine": "postgres"}
        )
    with stubber, unittest.mock.patch.object(preflight_database, "rds_client", lambda region: client):
        yield


class InvokeRefused(grpc.RpcError):
    """A provider's invoke failure as the engine reports it (the SDK reads code() and details())."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


@dataclass
class World:
    """The account as the program's deploy-time lookups see it. Defaults: a fresh account where the team's
    zone is hosted, the deployer is an SSO-style role session, and nothing of the stack exists yet."""

    caller_arn: str = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/alice"
    zone_ids: tuple[str, ...] = ("usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4")
    deployer_role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    hosted_zones: tuple[str, ...] = ("cloud.weave.works",)
    subnets: tuple[str, ...] = ()  # CIDRs of the stack's existing subnets (none: a new VPC), ids subnet-0, -1...
    # AZ of each existing subnet by CIDR; unlisted ones alternate us-west-2a, us-west-2b in `subnets` order.
    subnet_azs: dict[str, str] = field(default_factory=dict)
    zone_states: dict[str, str] = field(default_factory=dict)  # AZ name -> state other than "available"
    # name -> {"version": .., "tags": {..}, "vpcConfig": {"subnetIds": [ids of `subnets`]}}
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    ecr_tags: dict[str, list[str]] = field(default_factory=dict)  # repository -> pushed tags
    dockerhub_tags: dict[str, list[str]] = field(default_factory=dict)  # "user/repo" -> pushed tags
    log_groups: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> tags
    versions: list[dict[str, Any]] = field(default_factory=eks_versions)
    db_instances: dict[str, str] = field(default_factory=dict)  # identifier -> running engine version
    db_zones: dict[str, str] = field(default_factory=dict)  # identifier -> AZ of the primary (default us-west-2a)
    db_multi_az: bool = False
    pg_majors_error: str | None = None  # DescribeDBMajorEngineVersions answers this error code instead
    # DB snapshots: id -> {"instance": .., "engineVersion": .., "encrypted": .., "created": ISO time}
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    # DescribeDBEngineVersions ValidUpgradeTarget (major ones) per running version.
    pg_major_targets: dict[str, list[str]] = field(
        default_factory=lambda: {"15.8": ["16.4", "17.2"], "16.4": ["17.2"], "17.2": []}
    )
    pg_default_minor: dict[str, str] = field(default_factory=lambda: {"16": "16.4", "17": "17.2"})
    pg_majors: list[dict[str, Any]] = field(default_factory=rds_postgres_majors)  # DescribeDBMajorEngineVersions


def registry_digest(tag: str) -> str:
    """The digest a registry holds for a pushed tag: what the push returned, and what a lookup answers later."""
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def addon_version(addon: str, kubernetes: str) -> str:
    """The most recent build EKS lists for an add-on and Kubernetes version (a made-up but well-formed table)."""
    minor = int(kubernetes.split(".")[1])
    return {
        "vpc-cni": f"v1.20.{minor}-eksbuild.1",
        "kube-proxy": f"v1.{minor}.3-eksbuild.2",
        "coredns": f"v1.12.{minor}-eksbuild.1",
        "eks-pod-identity-agent": f"v1.3.{minor}-eksbuild.1",
    }[addon]


class InfraMocks(pulumi.runtime.Mocks):
    """Computed outputs for the resource types the program uses; everything else echoes its inputs."""

    def __init__(self, world: World | None = None) -> None:
        super().__init__()
        self.world = world or World()
        self.subnet_zones: dict[str, str] = {}  # subnet id -> AZ, as registered in this run

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name, typ = args.name, args.typ
        rid = f"{name}-id"
        state.setdefault("arn", _arn(typ.split(":")[1].split("/")[0], name))
        if typ == "aws:ec2/subnet:Subnet":
            self.subnet_zones[rid] = state.get("availabilityZone", "")
        if typ == "aws:eks/cluster:Cluster":
            self._refuse_new_control_plane_azs(state)
            state.update(
                endpoint=f"https://{name}.gr7.us-west-2.eks.amazonaws.com",
                certificateAuthority={"data": "Y2VydGlmaWNhdGU="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.us-west-2.amazonaws.com/id/{name.upper()}"}]}],
                vpcConfig={**state.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-cluster"},
            )
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            state["nodeGroupName"] = state.get("nodeGroupName") or f"{name}-ng"
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        elif typ == "aws:rds/instance:Instance":
            state.update(
                address=f"{state['identifier']}.abc.us-west-2.rds.amazonaws.com",
                port=5432,
                masterUserSecrets=[{"secretArn": _arn("secretsmanager", f"secret:rds!db-{name}")}],
                arn=_arn("rds", f"db:{state['identifier']}"),
                resourceId="db-ABCDEFGHIJKLMNOPQRSTUVWXY2",  # DbiResourceId's shape: db- and 26 characters
            )
            rid = state["identifier"]
        elif typ == "aws:ecr/repository:Repository":
            repo_name = state.get("name") or f"{name}-repo"
            state.update(
                name=repo_name,
                registryId=ACCOUNT,
                repositoryUrl=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/{repo_name}",
            )
        elif typ == "docker:index/image:Image":
            repository, tag = state["imageName"].rsplit(":", 1)
            held = self.world.ecr_tags.get(repository.partition("/")[2], [])
            if ".dkr.ecr." in repository and tag in held:  # what `docker push` prints for an IMMUTABLE repository
                raise InvokeRefused(
                    f"tag invalid: The image tag '{tag}' already exists in the '{repository.partition('/')[2]}'"
                    " repository and cannot be overwritten because the repository is immutable."
                )
            state["repoDigest"] = f"{repository}@{registry_digest(tag)}"
        elif typ == "aws:route53/zone:Zone":
            state.update(zoneId="ZCREATED", nameServers=[f"ns-{i}.awsdns-{i}.org" for i in range(1, 5)])
        elif typ == "aws:acm/certificate:Certificate":
            domain = state["domainName"]
            state["domainValidationOptions"] = [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_3f2a9c1d.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_9b8e7f6a.xlfgrmvvlj.acm-validations.aws.",
                }
            ]
            state["arn"] = _arn("acm", f"certificate/{name}")
        elif typ == "aws:route53/record:Record":
            state["fqdn"] = str(state["name"]).rstrip(".")
        elif typ == "random:index/randomId:RandomId":
            state["hex"] = "1a2b3c4d"
        elif typ == "kubernetes:core/v1:Service":
            state["status"] = {
                "loadBalancer": {"ingress": [{"hostname": "abc123-1066700612.us-west-2.elb.amazonaws.com"}]}
            }
        elif typ in NAMED_BY_ID:
            state.setdefault("name", rid)
        return rid, state

    def _state(self, zone: str) -> str:
        return self.world.zone_states.get(zone, "available")

    def _refuse_new_control_plane_azs(self, state: dict[str, Any]) -> None:
        """UpdateClusterConfig: EKS takes control-plane subnets only in the AZs the cluster was created with (EKS
        user guide, network requirements). The exception is EKS's; its exact wording is not published, so ours."""
        running = self.world.clusters.get(state["name"])
        created = running and running.get("vpcConfig", {}).get("subnetIds")
        if not created:
            return  # a new cluster, or one whose subnets the world does not say
        world = self.world
        created_in = {
            world.subnet_azs.get(cidr, ZONES[i % 2]) for i, cidr in enumerate(world.subnets) if f"subnet-{i}" in created
        }
        wanted = {self.subnet_zones[s] for s in state["vpcConfig"]["subnetIds"]}
        if not wanted <= created_in:
            raise InvokeRefused(
                f"updating EKS Cluster ({state['name']}) VPC configuration: InvalidParameterException: subnets in"
                f" {', '.join(sorted(wanted - created_in))}, an Availability Zone the cluster was not created in"
            )

    def _snapshot(self, query: dict[str, Any]) -> dict[str, Any]:
        """DescribeDBSnapshots as the provider's data source filters it (most_recent: newest; none: its error)."""
        found = {
            sid: snap
            for sid, snap in self.world.snapshots.items()
            if query.get("dbSnapshotIdentifier") in (None, sid)
            and query.get("dbInstanceIdentifier") in (None, snap["instance"])
        }
        if not found and query.get("dbSnapshotIdentifier"):  # DBSnapshotNotFoundFault, as the provider words it
            raise InvokeRefused("reading RDS DB Snapshots: couldn't find resource")
        if not found:
            raise InvokeRefused("Your query returned no results. Please change your search criteria and try again.")
        if len(found) > 1 and not query.get("mostRecent"):
            raise InvokeRefused("multiple RDS DB Snapshots matched; use additional constraints to reduce matches")
        sid = max(found, key=lambda k: found[k]["created"])
        return _snapshot_result(sid, found[sid])

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        w, token = self.world, args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": w.caller_arn, "userId": "AROAEXAMPLE:alice", "id": ACCOUNT}, []
        if token == "aws:iam/getSessionContext:getSessionContext":
            assert args.args["arn"] == w.caller_arn
            return {"arn": w.caller_arn, "issuerArn": w.deployer_role_arn, "id": w.caller_arn}, []
        if token == "aws:ec2/getVpcs:getVpcs":
            return {"ids": ["vpc-existing"] if w.subnets else [], "id": "us-west-2"}, []
        if token == "aws:ec2/getSubnets:getSubnets":
            return {"ids": [f"subnet-{i}" for i in range(len(w.subnets))], "id": "us-west-2"}, []
        if token == "aws:ec2/getSubnet:getSubnet":
            index = int(args.args["id"].split("-")[1])
            cidr = w.subnets[index]
            zone = w.subnet_azs.get(cidr, ZONES[index % 2])
            return {"id": args.args["id"], "cidrBlock": cidr, "vpcId": "vpc-existing", "availabilityZone": zone}, []
        if token == "aws:eks/getClusterVersions:getClusterVersions":
            assert args.args.get("includeAll") is True, "without includeAll EKS leaves out unsupported versions"
            return {"clusterVersions": w.versions, "id": "us-west-2"}, []
        if token == "aws:eks/getClusters:getClusters":
            return {"names": sorted(w.clusters), "id": "us-west-2"}, []
        if token == "aws:eks/getCluster:getCluster":
            if args.args["name"] not in w.clusters:
                raise InvokeRefused(f"reading EKS Cluster ({args.args['name']}): couldn't find resource")
            cluster = {"vpcConfig": {"subnetIds": []}, **w.clusters[args.args["name"]]}
            return {"name": args.args["name"], "id": args.args["name"], **cluster}, []
        if token == "aws:ecr/getRepositories:getRepositories":
            return {"names": sorted(w.ecr_tags), "id": "us-west-2"}, []
        if token == "aws:ecr/getImages:getImages":
            tags = w.ecr_tags[args.args["repositoryName"]]
            return {"imageIds": [{"imageTag": t, "imageDigest": registry_digest(t)} for t in tags]}, []
        if token == "docker:index/getRegistryImage:getRegistryImage":  # the provider's HEAD on the tag's manifest
            repository, tag = args.args["name"].rsplit(":", 1)
            if tag not in w.dockerhub_tags.get(repository, []):
                raise InvokeRefused(
                    f"Got error when attempting to fetch image version {repository}:{tag} from registry: got bad"
                    " response from registry: 404 Not Found"
                )
            return {"name": args.args["name"], "sha256Digest": registry_digest(tag), "id": registry_digest(tag)}, []
        if token == "aws:cloudwatch/getLogGroups:getLogGroups":
            prefix = args.args["logGroupNamePrefix"]
            return {"logGroupNames": sorted(n for n in w.log_groups if n.startswith(prefix)), "id": prefix}, []
        if token == "aws:cloudwatch/getLogGroup:getLogGroup":
            return {"name": args.args["name"], "tags": w.log_groups[args.args["name"]], "id": args.args["name"]}, []
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            assert args.args.get("mostRecent") is True
            offered = {v["clusterVersion"] for v in w.versions if v["versionStatus"] != "UNSUPPORTED"}
            if args.args["kubernetesVersion"] not in offered:
                raise InvokeRefused(f"no matching EKS Add-On Version found for {args.args['kubernetesVersion']}")
            version = addon_version(args.args["addonName"], args.args["kubernetesVersion"])
            return {"addonName": args.args["addonName"], "version": version, "id": args.args["addonName"]}, []
        if token == "aws:rds/getInstances:getInstances":
            (wanted,) = [f["values"] for f in args.args["filters"] if f["name"] == "db-instance-id"]
            names = [n for n in wanted if n in w.db_instances]
            return {"instanceIdentifiers": names, "instanceArns": [], "id": "us-west-2"}, []
        if token == "aws:rds/getInstance:getInstance":
            ident = args.args["dbInstanceIdentifier"]
            return {
                "dbInstanceIdentifier": ident,
                "engine": "postgres",
                "engineVersion": w.db_instances[ident],
                "availabilityZone": w.db_zones.get(ident, "us-west-2a"),
                "multiAz": w.db_multi_az,
            }, []
        if token == "aws:rds/getSnapshot:getSnapshot":
            return self._snapshot(args.args), []
        if token == "aws:rds/getEngineVersion:getEngineVersion":
            version = args.args["version"]
            if args.args.get("defaultOnly"):  # the default minor of a major, e.g. 17 -> 17.2
                return {"engine": "postgres", "version": w.pg_default_minor[version], "id": "x"}, []
            assert args.args.get("includeAll") is True, "a deprecated running minor is listed only with includeAll"
            targets = w.pg_major_targets[version]
            return {"engine": "postgres", "version": version, "validMajorTargets": targets, "id": "x"}, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            wanted = args.args.get("state")  # DescribeAvailabilityZones' zone-state filter
            rows = [(n, z) for n, z in zip(ZONES, w.zone_ids, strict=True) if wanted in (None, self._state(n))]
            return {"names": [n for n, _ in rows], "zoneIds": [z for _, z in rows], "id": "us-west-2"}, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "ecr-token", "authorizationToken": "dG9rZW4=", "id": "x"}, []
        if args.token == "aws:route53/getZone:getZone":
            if args.args["name"] not in w.hosted_zones:
                raise InvokeRefused("no matching Route 53 Hosted Zone found")
            return {"zoneId": "ZEXISTING", "name": args.args["name"], "id": "ZEXISTING"}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


def _snapshot_result(snapshot_id: str, snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": snapshot_id,
        "dbSnapshotIdentifier": snapshot_id,
        "dbSnapshotArn": f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:{snapshot_id}",
        "dbInstanceIdentifier": snap["instance"],
        "engine": "postgres",
        "engineVersion": snap["engineVersion"],
        "encrypted": snap.get("encrypted", True),
        "status": snap.get("status", "available"),
        "allocatedStorage": snap.get("allocatedStorage", 20),
        "snapshotCreateTime": snap["created"],
    }


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    protect: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    aliases: list[Any]  # alias_pb2.Alias as sent: what tools/snapshot.py resolves to old URNs

    def plain(self, key: str) -> Any:
        """An input with secret wrappers removed (for assertions on values)."""
        return unsecret(self.inputs.get(key))


def unsecret(value: Any) -> Any:
    """Plain JSON as the provider would send it: secret wrappers removed, and integral numbers as ints (the
    engine's protobuf numbers arrive as floats, 3.0, where Kubernetes schemas say integer)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace,
                    ignore_changes=list(request.ignoreChanges),
                    retain_on_delete=request.retainOnDelete,
                    dependencies=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object, keep_internal=False),
                    aliases=list(request.aliases),
                )
            )
        return response


@dataclass
class Run:
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message) the program logged

    def warnings(self) -> list[str]:
        return [message for level, message in self.logs if level == "WARNING"]

    def of_type(self, typ: str) -> list[Registration]:
        """By name: registration order is asynchronous, so it is not stable between runs."""
        return sorted((r for r in self.resources if r.type == typ), key=lambda r: r.name)

    def one(self, typ: str) -> Registration:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}

    def depends_on(self, dependent: Registration, dependency: Registration) -> bool:
        """True if `dependent` waits for `dependency`, directly or through any chain of dependencies or parents."""
        by_urn = self.by_urn()
        seen: set[str] = set()
        todo = [dependent.urn]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            reg = by_urn.get(urn)
            if reg is None:
                continue
            # Explicit and output dependencies, plus the provider (a k8s provider waits for its cluster).
            waits_for = [*reg.dependencies, *([reg.provider.rsplit("::", 1)[0]] if reg.provider else [])]
            if dependency.urn in waits_for:
                return True
            todo.extend(waits_for)
        return False


def _no_source_positions() -> contextlib.AbstractContextManager[Any]:
    """For every resource the SDK walks the whole Python stack (pytest's and hypothesis's frames included, and the
    source line of each) to tell the engine where the resource was declared; the mock monitor drops that and no
    test reads it. Skipping the walk makes a run ~10% cheaper."""
    return unittest.mock.patch.object(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace)


def run_program(config: dict[str, Any], stack: str = "foo", world: World | None = None) -> Run:
    """Run __main__.py once against `world`; exceptions from the program (e.g. ConfigError) propagate, with the
    partial run attached as `exc.run`."""
    mocks = InfraMocks(world)
    monitor = RecordingMonitor(mocks)
    run = Run(resources=monitor.registrations)
    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack per run
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=_recorder(run.logs)
    )
    strings, secret_keys = _config_strings(config)
    pulumi.runtime.set_all_config(strings, secret_keys)

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    try:
        with rds_answers(mocks.world), _no_source_positions():
            program()
    except Exception as exc:
        exc.run = run  # type: ignore[attr-defined]
        raise
    root = settings.get_root_resource()
    for name, value in getattr(root, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            run.secret_outputs.add(name)
    return run


class _Recorder(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname, record.getMessage()))


def _recorder(sink: list[tuple[str, str]]) -> logging.Logger:
    logger = logging.Logger("pulumi-program", logging.DEBUG)  # not registered: one per run, nothing leaks
    logger.addHandler(_Recorder(sink))
    return logger


def with_changes(changes: dict[str, Any], stack: str = "foo") -> dict[str, Any]:
    """The stack's config with `{"infra:cluster.nodes.desired": 3}`-style path changes (None deletes the key),
    as `pulumi config set --path` / `config rm --path` would make them."""
    config = stack_config(stack)
    for path, value in changes.items():
        key, _, rest = path.partition(".")
        if not rest:
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
            continue
        node = config.setdefault(key, {})
        *parents, leaf = rest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return config


def deployed(run: Run, world: World | None = None) -> World:
    """The account after `run` was applied: its subnets (CIDR and AZ) and its cluster (version, tags, control-plane
    subnets) exist, as the next `up` finds them. Everything else carries over from `world`."""
    world = world or World()
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    ids = {f"{s.name}-id": f"subnet-{i}" for i, s in enumerate(subnets)}  # the mock's ids -> the world's
    cluster = run.one("aws:eks/cluster:Cluster")
    control_plane = [ids[s] for s in unsecret(cluster.inputs["vpcConfig"])["subnetIds"]]
    clusters = {
        **world.clusters,
        cluster.inputs["name"]: {
            "version": cluster.inputs["version"],
            "tags": cluster.inputs["tags"],
            "vpcConfig": {"subnetIds": control_plane},
        },
    }
    return dataclasses.replace(
        world,
        subnets=tuple(s.inputs["cidrBlock"] for s in subnets),
        subnet_azs={s.inputs["cidrBlock"]: s.inputs["availabilityZone"] for s in subnets},
        clusters=clusters,
    )
