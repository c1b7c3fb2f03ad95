"""Reading the repository's own source as text: the string literals a scan test (test_contract,
test_config_key_names) checks for names that must come from one home."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string literal in code (f-strings included) with its line; docstrings and comments left out."""
    found = []
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING and previous not in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            found.append((token.start[0], token.string))
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return found
