"""Property: whatever is in the stack config, the program either runs or stops with one ConfigError that names the
bad keys, before creating anything. Never a KeyError, TypeError or ValueError from deep inside, never half a stack.

Mutations start from foo's config with every key spelled out (BASE): a leaf or object replaced with a value of
another type, keys deleted,
unknown keys (typos) added, integers out of range, bad CIDRs, bad versions — each of which must be refused by
name — and allowed-but-unusual values, which must run. Each example runs the whole program under mocks (~0.1 s
when it gets past the config, ~5 ms when the config stops it). Derandomized: CI sees the same examples every run.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from harness import Run, shared_run, stack_config
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from infra.config import ConfigError
from tools import reviewed_graph

# Pulumi.foo.yaml holds only foo's own choices; the mutations need every key present to reach them, so BASE spells
# out the rest with the values foo runs on (the documented defaults; test_foo_config_is_valid checks they are).
SPELLED_OUT: dict[str, Any] = {
    "infra:network": {"cidr": "10.0.0.0/16", "azCount": 2, "natGateways": "single"},
    "infra:cluster": {
        "publicAccessCidrs": ["0.0.0.0/0"],
        "adminArns": [],
        "logRetentionDays": 30,
        "nodes": {
            "instanceTypes": ["t3.medium"],
            "capacityType": "ON_DEMAND",
            "diskSizeGb": 20,
            "desired": 2,
            "min": 1,
            "max": 4,
            "maxUnavailable": 1,
        },
    },
    "infra:helloworld": {
        "version": "1.0.0",
        "greeting": "Hello world",
        "replicas": 3,
        "workload": "ReplicationController",
        "registry": "ecr",
        "updatePeriodSeconds": 3,
        "namespace": "helloworld",
    },
    "infra:database": {
        "supportType": "STANDARD",
        "instanceClass": "db.t4g.micro",
        "storageGb": 20,
        "multiAz": False,
        "backupRetentionDays": 7,
        "logRetentionDays": 30,
        "dbName": "app",
        "username": "app",
    },
}


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, objects merged key by key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


BASE = merged(SPELLED_OUT, stack_config("foo"))
Path = tuple[str | int, ...]  # (top-level key, then object keys and list indexes)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# A problem line starts with the key it is about: `infra:cluster.nodes.desired: ...`, `aws:region: ...`.
NAMES_A_KEY = re.compile(r"^(?:infra|aws):[A-Za-z][\w-]*")


# ---------------------------------------------------------------- paths into the config


def key_path(path: Path) -> str:
    """The key as the program names it: `infra:cluster.nodes.desired`, `infra:cluster.publicAccessCidrs[0]`."""
    head, *rest = path
    return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


def paths(node: Any, prefix: Path = ()) -> list[Path]:
    """Every object member and list element, depth first."""
    found: list[Path] = []
    if isinstance(node, dict):
        items: list[tuple[str | int, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return found
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def get(cfg: Any, path: Path) -> Any:
    for p in path:
        cfg = cfg[p]
    return cfg


def put(cfg: dict[str, Any], path: Path, value: Any) -> None:
    get(cfg, path[:-1])[path[-1]] = value


def delete(cfg: dict[str, Any], path: Path) -> None:
    del get(cfg, path[:-1])[path[-1]]


def dict_paths(cfg: dict[str, Any]) -> list[Path]:
    return [p for p in paths(cfg) if isinstance(get(cfg, p), dict)]


# ---------------------------------------------------------------- values


def category(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "strings" if all(isinstance(x, str) for x in value) else "list"
    return type(value).__name__


SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
ANY_JSON = st.recursive(
    st.none() | SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# One strategy per JSON type, so "another type" needs no filtering.
BY_CATEGORY: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int": st.integers(min_value=-(2**40), max_value=2**40),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "str": st.text(max_size=12),
    "strings": st.lists(st.text(max_size=8), max_size=3),
    "list": st.lists(st.integers() | st.booleans() | st.none(), min_size=1, max_size=3),
    "dict": st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
}


def wrong_type_for(original: Any, top_level: bool) -> st.SearchStrategy[Any]:
    """A value of another type. Top-level values reach the program as strings (objects as JSON), so a string there
    could itself be valid JSON: use non-string values, which every top-level key rejects."""
    excluded = {category(original)} | ({"str", "dict"} if top_level else set())
    return st.one_of([strategy for name, strategy in BY_CATEGORY.items() if name not in excluded])


def typo(key: str) -> st.SearchStrategy[str]:
    """Drop, double or swap a character, or a different case: what a person types by mistake."""
    n = len(key)

    def edits(i: int) -> list[str]:
        out = [key[:i] + key[i + 1 :], key[:i] + key[i] + key[i:], key.upper(), key + "s"]
        if i + 1 < n:
            out.append(key[:i] + key[i + 1] + key[i] + key[i + 2 :])
        return out

    return st.integers(0, n - 1).flatmap(lambda i: st.sampled_from(edits(i)))


def outside(low: int | None, high: int | None) -> st.SearchStrategy[int]:
    """Integers outside low..high; the ones just outside, and 0 (a falsy value), drawn often: likely bugs."""
    candidates = (0, None if low is None else low - 1, None if high is None else high + 1)
    edges = sorted(
        {v for v in candidates if v is not None and not ((low is None or v >= low) and (high is None or v <= high))}
    )
    below = [] if low is None else [st.integers(max_value=low - 1)]
    above = [] if high is None else [st.integers(min_value=high + 1)]
    return st.one_of(st.sampled_from(edges), *below, *above)


# Integers outside what each key allows, from the spec (AWS limits, the runbook); foo's nodes are min 1, max 4.
OUT_OF_RANGE: dict[Path, st.SearchStrategy[int]] = {
    ("infra:network", "azCount"): outside(2, 6),
    # CloudWatch takes 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    # 3288, 3653 (and 0, never expire, which the program leaves out).
    ("infra:cluster", "logRetentionDays"): st.sampled_from([0, 2, 4, 6, 8, 31, 100, 366, 3654, -1]),
    ("infra:cluster", "nodes", "diskSizeGb"): outside(20, 16384),
    ("infra:cluster", "nodes", "min"): outside(1, None),
    ("infra:cluster", "nodes", "desired"): outside(1, 4),
    ("infra:cluster", "nodes", "maxUnavailable"): outside(1, 4),
    ("infra:helloworld", "replicas"): outside(2, 50),
    ("infra:helloworld", "updatePeriodSeconds"): outside(0, 600),
    ("infra:database", "storageGb"): outside(20, 65536),
    ("infra:database", "backupRetentionDays"): outside(1, 35),
}
NOT_A_CIDR = st.one_of(
    st.sampled_from(["", "10.0.0.0/33", "10.0.0.1/16", "10.0.0/16", "10.0.0.0/-1", "fd00::/48", "any", "10.0.0.0/16 "]),
    st.tuples(st.integers(256, 999), st.integers(0, 32)).map(lambda t: f"{t[0]}.0.0.0/{t[1]}"),
    st.integers(33, 128).map(lambda p: f"10.0.0.0/{p}"),
)
# Valid CIDRs that are wrong for the VPC: public, larger than /16, too small for two AZs' subnets.
BAD_VPC_CIDR = NOT_A_CIDR | st.sampled_from(
    ["8.8.0.0/16", "100.64.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "10.0.0.0/25"]
)
BAD_VERSIONS: dict[Path, st.SearchStrategy[str]] = {
    ("infra:cluster", "version"): st.sampled_from(["1.29", "1.3", "2.33", "v1.33", "1.33.0", "1.", "", "latest"])
    | st.integers(0, 29).map(lambda n: f"1.{n:02d}"),
    ("infra:helloworld", "version"): st.sampled_from(
        ["1.0", "1.0.0.0", "01.0.0", "v1.0.0", "1.0.0-", "1.0.x", "", "latest", "1.0.0+build"]
    ),
    ("infra:database", "engineVersion"): st.sampled_from(["9.6", "16.4.1", "16.", "v16", "", "postgres16"])
    | st.integers(0, 99).filter(lambda n: not 13 <= n <= 18).map(lambda n: f"{n:02d}"),  # RDS offers 13..18
}


DNS_LABEL = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
ROLE_ARN = st.from_regex(r"\Aarn:aws:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_-]{1,20}\Z")
# Allowed values that need nothing else to change: each one alone must run.
VALID: dict[Path, st.SearchStrategy[Any]] = {
    ("infra:network", "azCount"): st.integers(2, 4),  # the region (and the mock) has 4 AZs
    ("infra:network", "cidr"): st.sampled_from(["10.0.0.0/16", "172.16.0.0/16", "192.168.0.0/16", "10.8.0.0/22"]),
    ("infra:network", "natGateways"): st.sampled_from(["single", "one-per-az"]),
    ("infra:cluster", "version"): st.sampled_from(["1.34", "1.35"]),  # in EKS standard support (harness.World)
    ("infra:cluster", "publicAccessCidrs"): st.lists(
        st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(8, 16)).map(
            lambda t: f"{t[0]}.{t[1]}.0.0/{t[2]}" if t[2] >= 16 else f"{t[0]}.0.0.0/{t[2]}"
        ),
        min_size=1,
        max_size=3,
    ),
    ("infra:cluster", "adminArns"): st.lists(ROLE_ARN, max_size=2),
    ("infra:cluster", "kubeconfigRoleArn"): ROLE_ARN,
    ("infra:cluster", "kubeconfigProfile"): st.from_regex(r"\A[A-Za-z0-9_-]{1,12}\Z"),
    ("infra:cluster", "logRetentionDays"): st.sampled_from([1, 3, 7, 14, 60, 365, 2922]),
    ("infra:cluster", "nodes", "instanceTypes"): st.lists(
        st.sampled_from(["t3.medium", "t3.large", "m7i.large"]), min_size=1, max_size=3
    ),
    ("infra:cluster", "nodes", "capacityType"): st.sampled_from(["ON_DEMAND", "SPOT"]),
    ("infra:cluster", "nodes", "diskSizeGb"): st.integers(20, 16384),
    ("infra:cluster", "nodes", "desired"): st.integers(1, 4),
    ("infra:cluster", "nodes", "maxUnavailable"): st.integers(1, 4),
    ("infra:helloworld", "version"): st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)).map(
        lambda t: ".".join(map(str, t))
    ),
    ("infra:helloworld", "greeting"): st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="'\"\\"), min_size=1, max_size=40
    ),
    ("infra:helloworld", "replicas"): st.integers(2, 50),
    ("infra:helloworld", "workload"): st.sampled_from(["ReplicationController", "Deployment"]),
    ("infra:helloworld", "updatePeriodSeconds"): st.integers(0, 600),
    ("infra:helloworld", "namespace"): DNS_LABEL,
    # In RDS standard support (harness.rds_postgres_majors: 13 is in Extended Support, refused without the opt-in).
    ("infra:database", "engineVersion"): st.tuples(st.integers(14, 18), st.none() | st.integers(0, 20)).map(
        lambda t: f"{t[0]}" if t[1] is None else f"{t[0]}.{t[1]}"
    ),
    ("infra:database", "instanceClass"): st.sampled_from(["db.t4g.micro", "db.m7g.large", "db.r6g.xlarge"]),
    ("infra:database", "storageGb"): st.integers(20, 65536),
    ("infra:database", "multiAz"): st.booleans(),
    ("infra:database", "backupRetentionDays"): st.integers(1, 35),
    ("infra:database", "skipFinalSnapshot"): st.booleans(),  # foo is ephemeral, so either is fine
    ("infra:dns", "name"): DNS_LABEL,
}


# ---------------------------------------------------------------- mutations

Mutation = Callable[[st.DrawFn, dict[str, Any]], tuple[str, str]]  # mutates cfg; returns (description, key named)


def wrong_type(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    path = draw(st.sampled_from(paths(cfg)))
    value = draw(wrong_type_for(get(cfg, path), top_level=len(path) == 1))
    put(cfg, path, value)
    # A list's elements are checked as one value: a bad element makes the list the wrong type.
    named = path[:-1] if isinstance(path[-1], int) and category(get(cfg, path[:-1])) != "strings" else path
    return f"{key_path(path)} = {value!r}", key_path(named)


def unknown_key(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    path = draw(st.sampled_from([(), *dict_paths(cfg)]))
    obj = get(cfg, path)
    if path == ():
        section = draw(st.sampled_from([k for k in obj if k.startswith("infra:")]))
        key = "infra:" + draw(typo(section.removeprefix("infra:")))
    else:
        key = draw(st.sampled_from(sorted(obj)).flatmap(typo) if obj else st.just("extra"))
    if key in obj:
        key += "x"
    obj[key] = draw(ANY_JSON)
    return f"add {key_path((*path, key)) if path else key}", key_path((*path, key)) if path else key


def set_from(table: dict[Path, st.SearchStrategy[Any]], draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    """One of the table's keys set to a value its strategy draws (the key may not be in foo's file yet)."""
    path = draw(st.sampled_from(sorted(table)))
    value = draw(table[path])
    put(cfg, path, value)
    return f"{key_path(path)} = {value!r}", key_path(path)


def out_of_range(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    return set_from(OUT_OF_RANGE, draw, cfg)


def bad_cidr(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    cidrs = cfg["infra:cluster"]["publicAccessCidrs"]
    path: Path = draw(
        st.sampled_from(
            [("infra:network", "cidr"), *[("infra:cluster", "publicAccessCidrs", i) for i in range(len(cidrs))]]
        )
    )
    value = draw(BAD_VPC_CIDR if path == ("infra:network", "cidr") else NOT_A_CIDR)
    put(cfg, path, value)
    return f"{key_path(path)} = {value!r}", key_path(path)


def bad_version(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    return set_from(BAD_VERSIONS, draw, cfg)


def remove(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    path = draw(st.sampled_from(paths(cfg)))
    delete(cfg, path)
    return f"delete {key_path(path)}", key_path(path)


def anything(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    """Any JSON value anywhere, None and JSON-looking strings included: not necessarily invalid."""
    path = draw(st.sampled_from(paths(cfg)))
    value = draw(ANY_JSON | st.sampled_from(["{}", "[]", "null", "1", "true", '{"cidr": 5}']))
    put(cfg, path, value)
    return f"{key_path(path)} = {value!r}", key_path(path)


def valid_value(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    return set_from(VALID, draw, cfg)


def use_dockerhub(draw: st.DrawFn, cfg: dict[str, Any]) -> tuple[str, str]:
    """registry dockerhub needs a username and the secret token: all three, or any of them alone."""
    parts = draw(st.sets(st.sampled_from(["registry", "username", "token"]), min_size=1))
    if "registry" in parts:
        cfg["infra:helloworld"]["registry"] = "dockerhub"
    if "username" in parts:
        cfg["infra:helloworld"]["dockerhubUsername"] = draw(st.from_regex(r"\A[a-z0-9]{4,30}\Z"))
    if "token" in parts:
        cfg["infra:dockerhubToken"] = {"secure": "v1:token"}
    return f"dockerhub: {sorted(parts)}", "infra:helloworld.registry"


ALWAYS_INVALID: list[Mutation] = [wrong_type, unknown_key, out_of_range, bad_cidr, bad_version]
# Weighted towards changes that still run, so the whole program sees unusual but valid configs too.
ANY_MUTATION: list[Mutation] = [*ALWAYS_INVALID, remove, remove, anything, valid_value, valid_value, use_dockerhub]


@st.composite
def one_invalid_change(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    cfg = copy.deepcopy(BASE)
    mutation = draw(st.sampled_from(ALWAYS_INVALID))
    description, named = mutation(draw, cfg)
    return cfg, description, named


@st.composite
def several_changes(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    cfg = copy.deepcopy(BASE)
    descriptions = []
    for _ in range(draw(st.integers(1, 3))):
        if not paths(cfg):
            break
        mutation = draw(st.sampled_from(ANY_MUTATION))
        descriptions.append(mutation(draw, cfg)[0])
    return cfg, descriptions


def outcome(cfg: dict[str, Any]) -> Run | ConfigError:
    """The run, or the ConfigError; any other exception fails the test as it is."""
    try:
        return shared_run(cfg)
    except ConfigError as e:
        return e


def assert_clean_refusal(error: ConfigError) -> None:
    assert error.problems, "a ConfigError with no problems"
    unnamed = [p for p in error.problems if not NAMES_A_KEY.match(p)]
    assert not unnamed, f"problems that name no key: {unnamed}"
    resources = error.run.resources  # type: ignore[attr-defined]
    assert resources == [], f"config rejected after {len(resources)} resources were registered"


# ---------------------------------------------------------------- properties


def test_foo_config_is_valid(foo: Run) -> None:
    """The starting point: every mutation below is measured against a config that runs: foo's, keys spelled out."""
    assert foo.resources
    base = outcome(copy.deepcopy(BASE))
    assert isinstance(base, Run), base
    same_graph = reviewed_graph.snapshot_of(base, "foo") == reviewed_graph.snapshot_of(foo, "foo")
    assert same_graph, "a key BASE spells out differs from what foo runs on"


@SETTINGS
@given(one_invalid_change())
def test_an_invalid_value_is_refused_by_name(case: tuple[dict[str, Any], str, str]) -> None:
    cfg, description, named = case
    note(description)
    result = outcome(cfg)
    assert isinstance(result, ConfigError), f"accepted: {description}"
    assert_clean_refusal(result)
    about = [p for p in result.problems if p.startswith(named) and p[len(named) : len(named) + 1] in (":", "")]
    assert about, f"{description}: no problem names {named}: {result.problems}"


@SETTINGS
@given(several_changes())
def test_any_config_runs_or_is_refused_cleanly(case: tuple[dict[str, Any], list[str]]) -> None:
    cfg, descriptions = case
    note("; ".join(descriptions))
    result = outcome(cfg)
    event("refused" if isinstance(result, ConfigError) else "ran")  # --hypothesis-show-statistics
    if isinstance(result, ConfigError):
        assert_clean_refusal(result)
    else:
        assert result.resources, "a run that registered nothing"


@st.composite
def one_valid_change(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    cfg = copy.deepcopy(BASE)
    description, _ = valid_value(draw, cfg)
    return cfg, description


@settings(SETTINGS, max_examples=25)
@given(one_valid_change())
def test_an_allowed_value_runs(case: tuple[dict[str, Any], str]) -> None:
    cfg, description = case
    note(description)
    result = outcome(cfg)
    if isinstance(result, ConfigError):
        raise AssertionError(f"{description} refused: {result.problems}")
    assert result.resources


def test_dockerhub_with_username_and_token_runs() -> None:
    cfg = copy.deepcopy(BASE)
    cfg["infra:helloworld"].update(registry="dockerhub", dockerhubUsername="someone")
    cfg["infra:dockerhubToken"] = {"secure": "v1:token"}
    result = outcome(cfg)
    assert not isinstance(result, ConfigError), result
    assert not result.of_type("aws:ecr/repository:Repository")


def test_a_wrong_type_names_its_key() -> None:
    cfg = copy.deepcopy(BASE)
    cfg["infra:cluster"]["nodes"]["desired"] = "three"
    result = outcome(cfg)
    assert isinstance(result, ConfigError)
    assert any(p.startswith("infra:cluster.nodes.desired: 'three'") for p in result.problems), result.problems
