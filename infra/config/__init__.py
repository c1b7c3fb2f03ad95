"""Typed stack config: the schema (schema.py), the parser and `load_config()` (parser.py), the rules (rules.py).

`load_config()` reads every section, collects every problem (unknown keys, wrong types, values out of range),
and raises one ConfigError listing them all, before the program creates any resource. docs/config.md is generated
from the schema (tools/config_reference.py).
"""

from infra.config.parser import ConfigError, load_config
from infra.config.rules import K8S_VERSION_PATTERN
from infra.config.schema import (
    ADDON_NAMES,
    AddonsConfig,
    ClusterConfig,
    DatabaseConfig,
    DnsConfig,
    HelloWorldConfig,
    NetworkConfig,
    NodesConfig,
    PointInTimeConfig,
    RestoreFromConfig,
    StackConfig,
    camel,
)

__all__ = [
    "ADDON_NAMES",
    "K8S_VERSION_PATTERN",
    "AddonsConfig",
    "ClusterConfig",
    "ConfigError",
    "DatabaseConfig",
    "DnsConfig",
    "HelloWorldConfig",
    "NetworkConfig",
    "NodesConfig",
    "PointInTimeConfig",
    "RestoreFromConfig",
    "StackConfig",
    "camel",
    "load_config",
]
