"""Entry point of the policy pack: `pulumi preview --policy-pack policy` runs this file as a script.

The engine runs the pack directory (runpy), so only `policy/` is on sys.path; put the project root there too so
the rules import as `policy.rules`, the same module the tests and mypy see.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.cost import STACK_POLICIES
from policy.rules import POLICIES

PolicyPack(name="infra-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=[*POLICIES, *STACK_POLICIES])
