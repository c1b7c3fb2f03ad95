"""Run the real `__main__.py` under Pulumi mocks with a stack's real config, and record the whole graph.

Mocks answer like AWS and Kubernetes would (camelCase outputs, deterministic values), so a run is repeatable and
two runs can be compared. `RecordingMonitor` keeps every RegisterResource request: type, name, parent,
dependencies, provider, options and the inputs exactly as the engine would receive them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.sync_await import _sync_await

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


class InfraMocks(pulumi.runtime.Mocks):
    """Computed outputs for the resource types the program uses; everything else echoes its inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name, typ = args.name, args.typ
        rid = f"{name}-id"
        state.setdefault("arn", _arn(typ.split(":")[1].split("/")[0], name))
        if typ == "aws:eks/cluster:Cluster":
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
            )
            rid = state["identifier"]
        elif typ == "aws:ecr/repository:Repository":
            state.update(
                name=f"{name}-repo",
                registryId=ACCOUNT,
                repositoryUrl=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/{name}",
            )
        elif typ == "docker:index/image:Image":
            # The digest changes with what is built (tag and build args), as a real push's would.
            digest = hashlib.sha256(json.dumps(args.inputs, sort_keys=True, default=str).encode()).hexdigest()
            state["repoDigest"] = f"{state['imageName'].rsplit(':', 1)[0]}@sha256:{digest}"
        elif typ == "aws:route53/zone:Zone":
            state.update(zoneId="ZCREATED", nameServers=[f"ns-{i}.awsdns-{i}.org" for i in range(1, 5)])
        elif typ == "random:index/randomId:RandomId":
            state["hex"] = "1a2b3c4d"
        elif typ == "kubernetes:core/v1:Service":
            state["status"] = {
                "loadBalancer": {"ingress": [{"hostname": "abc123-1066700612.us-west-2.elb.amazonaws.com"}]}
            }
        elif typ in NAMED_BY_ID:
            state.setdefault("name", rid)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ZONES, "zoneIds": [f"usw2-az{i}" for i in range(1, 5)], "id": "us-west-2"}, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "ecr-token", "authorizationToken": "dG9rZW4=", "id": "x"}, []
        if args.token == "aws:route53/getZone:getZone":
            return {"zoneId": "ZEXISTING", "name": args.args["name"], "id": "ZEXISTING"}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


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


def run_program(config: dict[str, Any], stack: str = "foo") -> Run:
    """Run __main__.py once; exceptions from the program (e.g. ConfigError) propagate, with the partial run
    attached as `exc.run`."""
    monitor = RecordingMonitor(InfraMocks())
    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack per run
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    strings, secret_keys = _config_strings(config)
    pulumi.runtime.set_all_config(strings, secret_keys)

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    run = Run(resources=monitor.registrations)
    try:
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
