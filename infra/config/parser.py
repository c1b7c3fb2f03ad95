"""Reading the stack config: a strict structural parser (unknown keys, wrong types) over the schema's dataclasses,
and `load_config()`, which reads every `infra:*` section, applies the rules and raises one ConfigError listing
every problem before the program creates any resource.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from typing import Any

import pulumi

import infra.config.rules as rules
from infra.config.schema import (
    PROJECT_NAMESPACE,
    SECRET_KEYS,
    SECTIONS,
    ClusterConfig,
    DatabaseConfig,
    DnsConfig,
    HelloWorldConfig,
    NetworkConfig,
    StackConfig,
    camel,
)


class ConfigError(Exception):
    """Every problem in the stack config, one per line: `infra:<key path>: <value> — <allowed>`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{lines}")


def type_name(tp: Any) -> str:
    """What a wrong-type problem says is allowed (and the reference's type column)."""
    if dataclasses.is_dataclass(tp):
        return "an object"
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list of strings"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return {bool: "true or false", int: "an integer", str: "a string"}[tp]


_MISSING = object()


def _parse_value(tp: Any, raw: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if raw is None else _parse_value(inner, raw, path, problems)
    if dataclasses.is_dataclass(tp):
        return _parse_object(typing.cast(type, tp), raw, path, problems)
    ok = (
        (origin is list and isinstance(raw, list) and all(isinstance(x, str) for x in raw))
        or (tp is bool and isinstance(raw, bool))
        or (tp is int and isinstance(raw, int) and not isinstance(raw, bool))
        or (tp is str and isinstance(raw, str))
    )
    if not ok:
        problems.append(f"{path}: {raw!r} has the wrong type — allowed: {type_name(tp)}")
        return _MISSING
    return raw


def _parse_object(cls: type, raw: Any, path: str, problems: list[str]) -> Any:
    """Build dataclass `cls` from a config object; unknown keys and wrong types become problems."""
    if not isinstance(raw, dict):
        problems.append(f"{path}: {raw!r} has the wrong type — allowed: an object with keys {_keys(cls)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {camel(f.name): f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{path}.{key}: unknown key{hint} — allowed keys: {_keys(cls)}")
    values = {}
    for key, f in fields.items():
        if key in raw:
            value = _parse_value(hints[f.name], raw[key], f"{path}.{key}", problems)
            if value is not _MISSING:
                values[f.name] = value
    return cls(**values)


def _keys(cls: type) -> str:
    return ", ".join(camel(f.name) for f in dataclasses.fields(cls))


def _raw_section(cfg: pulumi.Config, name: str, problems: list[str]) -> Any:
    try:
        return cfg.get_object(name)
    except (json.JSONDecodeError, pulumi.ConfigTypeError) as e:
        problems.append(f"infra:{name}: not valid structured config ({e}) — allowed: an object")
        return {}


def _unknown_top_level_keys() -> list[str]:
    """`infra:*` keys that are neither a section nor a known secret (typos like `infra:netwrok`)."""
    from pulumi.runtime import config as runtime_config

    known = set(SECTIONS) | set(SECRET_KEYS)
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT_NAMESPACE}:"
    return sorted(k for k in keys if k.startswith(prefix) and k[len(prefix) :] not in known)


def load_config() -> StackConfig:
    """Read and validate the whole stack config; raise one ConfigError that lists every problem."""
    cfg = pulumi.Config(PROJECT_NAMESPACE)
    problems: list[str] = []
    for key in _unknown_top_level_keys():
        problems.append(f"{key}: unknown key — allowed keys: infra:{', infra:'.join(SECTIONS + SECRET_KEYS)}")

    region = pulumi.Config("aws").get("region")
    rules.check_stack(pulumi.get_stack(), region, problems)

    def section(cls: type, name: str) -> Any:
        raw = _raw_section(cfg, name, problems)
        return _parse_object(cls, {} if raw is None else raw, f"infra:{name}", problems)

    network: NetworkConfig = section(NetworkConfig, "network")
    cluster: ClusterConfig = section(ClusterConfig, "cluster")
    helloworld: HelloWorldConfig = section(HelloWorldConfig, "helloworld")
    database: DatabaseConfig = section(DatabaseConfig, "database")
    dns_raw = _raw_section(cfg, "dns", problems)
    dns: DnsConfig | None = None if dns_raw is None else _parse_object(DnsConfig, dns_raw, "infra:dns", problems)
    token = cfg.get_secret("dockerhubToken")

    rules.check_network(network, problems)
    rules.check_cluster(cluster, problems)
    rules.check_helloworld(helloworld, token is not None, problems)
    rules.check_database(database, problems)
    if dns is not None:
        rules.check_dns(dns, problems)
    if problems:
        raise ConfigError(problems)
    return StackConfig(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=typing.cast(str, region),
        network=network,
        cluster=cluster,
        helloworld=helloworld,
        database=database,
        dns=dns,
        dockerhub_token=token,
    )
