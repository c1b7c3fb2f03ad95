"""Pulumi mocks that answer like AWS and Kubernetes would, from a `World`: computed outputs of the resources the
program creates (camelCase, deterministic), its provider invokes (lookups, refusals included), and its one direct
boto3 call (RDS, through botocore's Stubber).
"""

from __future__ import annotations

import contextlib
import functools
import unittest.mock
from collections.abc import Iterator
from typing import Any

import botocore.session
import grpc
import pulumi
from botocore.stub import Stubber

from infra.account import database as account_database
from tools.offline.world import ACCOUNT, ZONES, World, addon_version, registry_digest

NAMED_BY_ID = {
    "aws:iam/role:Role",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
}


def _arn(service: str, name: str) -> str:
    return f"arn:aws:{service}:us-west-2:{ACCOUNT}:{name}"


@functools.cache
def _rds_client() -> Any:
    """One client per process (building one costs ~10 ms, a twentieth of a run); each run stubs it afresh."""
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
    with stubber, unittest.mock.patch.object(account_database, "rds_client", lambda region: client):
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
