"""Every message README.md and docs/ quote is one a test asserts, so a quote cannot drift from the code (issue 19).

A quote is a fenced ```text block, or a `###` heading of docs/troubleshooting.md (the message users search for).
The HTML comment on the line before it names the test(s) that produce it:

    <!-- asserted by tests/ops/test_ops_destroy_precheck.py::test_destroy_checks_credentials_before_destroying -->

Each quoted line must occur in a string the named test asserts on: a literal inside an `assert`, an `assert…` call
or a `lines.index(…)` lookup, or a literal the assertion compares against by name (a local, a module constant, a
constant imported from a module, a `parametrize` value), or the `match=` of a `pytest.raises`. In a quote, `…`
stands for a variable part, and so does a gap of two or more spaces (a table's columns): the text between them must
occur whole in one asserted string, whose own variable parts (an f-string's expressions that are not such names)
split it the same way. A quote with no marker, a marker naming a missing test, a fenced block that does not say
what it holds (```sh, ```yaml, ```diagram for pictures, ```text for quotes), and a message quoted inline in prose
all fail.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!--\s*asserted by\s+(?P<tests>.+?)\s*-->$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>\S*)")
HOLE = "\x00"  # a variable part of an asserted string: no quoted text spans it
# Inline code in prose that reads like a printed message: those belong in a quoted block, with their test.
INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
MESSAGE_LIKE = re.compile(r"^error: |\S — \S")
MAX_RENDERINGS = 64


@dataclass
class Quote:
    where: str  # path:line of the quote's first line
    tests: list[str]  # the marker's test ids, empty when there is none
    lines: list[str] = field(default_factory=list)


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def heading_message(text: str) -> str:
    """`### ``run `x` …`` ` → the message inside the code span (which may hold backticks itself)."""
    match = re.fullmatch(r"(`+)\s?(.*?)\s?\1", text.strip())
    return match.group(2) if match else text.strip()


def parse(text: str, name: str, *, headings_are_quotes: bool) -> tuple[list[Quote], list[str]]:
    """The quotes of one Markdown file, and its problems that are not about a test (unmarked or unlabeled blocks,
    messages quoted inline)."""
    quotes: list[Quote] = []
    problems: list[str] = []
    lines = text.splitlines()
    previous = ""  # the last non-blank line outside a block
    fence: str | None = None
    current: Quote | None = None
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence, current = None, None
            elif current is not None:
                current.lines.append(line)
            continue
        opening = FENCE.match(line.strip())
        if opening:
            fence = opening["fence"]
            if not opening["lang"]:
                problems.append(
                    f"{where}: a fenced block says what it holds: ```sh, ```yaml, ```diagram, ```text (a quote)"
                )
            elif opening["lang"] == "text":
                current = Quote(where, marked_tests(previous))
                quotes.append(current)
            previous = ""
            continue
        if headings_are_quotes and line.startswith("### "):
            quotes.append(Quote(where, marked_tests(previous), [heading_message(line[4:])]))
        elif not line.startswith("#"):
            problems += [
                f"{where}: `{span}` reads like a printed message: quote it in a ```text block with its test"
                for span in INLINE_CODE.findall(line)
                if MESSAGE_LIKE.search(span)
            ]
        if line.strip():
            previous = line.strip()
    return quotes, problems


def marked_tests(line: str) -> list[str]:
    match = MARKER.match(line)
    return re.split(r"[\s,]+", match["tests"]) if match else []


# ---------------------------------------------------------------- what a test asserts


@dataclass(frozen=True)
class Module:
    path: Path
    tree: ast.Module

    def assignments(self) -> dict[str, list[ast.expr]]:
        return assigned_values(self.tree.body)


@cache
def load(path: Path) -> Module:
    return Module(path, ast.parse(path.read_text(), filename=str(path)))


def assigned_values(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    """Name → the values it is bound to by `=` or `: T =` at this level (not inside nested functions)."""
    found: dict[str, list[ast.expr]] = {}
    for node in body:
        for sub in walk_skipping_functions(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(sub.value)
            elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name) and sub.value is not None:
                found.setdefault(sub.target.id, []).append(sub.value)
    return found


def walk_skipping_functions(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            yield from walk_skipping_functions(child)


def find_test(module: Module, qualified: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    body: list[ast.stmt] = module.tree.body
    *classes, function = qualified.split("::")
    for name in classes:
        cls = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if cls is None:
            return None
        body = cls.body
    return next((n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function), None)


def parametrized(test: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, list[ast.expr]]:
    """argname → its values, from `@pytest.mark.parametrize("a, b", [(…, …), …])` decorators."""
    found: dict[str, list[ast.expr]] = {}
    for decorator in test.decorator_list:
        if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize"):
            continue
        if len(decorator.args) < 2:
            continue
        names_node, values_node = decorator.args[0], decorator.args[1]
        if isinstance(names_node, ast.Constant) and isinstance(names_node.value, str):
            names = [n.strip() for n in names_node.value.split(",")]
        elif isinstance(names_node, ast.List | ast.Tuple):
            names = [n.value for n in names_node.elts if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        else:
            continue
        rows = values_node.elts if isinstance(values_node, ast.List | ast.Tuple) else []
        for row in rows:
            values = row.elts if len(names) > 1 and isinstance(row, ast.Tuple) else [row]
            for argname, value in zip(names, values, strict=False):
                found.setdefault(argname, []).append(value)
    return found


class Scope:
    """Resolves the names an assertion uses to the literals they are bound to."""

    def __init__(self, module: Module, test: ast.FunctionDef | ast.AsyncFunctionDef | None = None) -> None:
        self.module = module
        self.local = assigned_values(test.body) if test else {}
        self.params = parametrized(test) if test else {}
        self.globals = module.assignments()
        self.imported = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in module.tree.body
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }

    def values(self, name: str, depth: int) -> list[str]:
        if depth > 4:
            return []
        for bound in (self.local, self.params, self.globals):
            if name in bound:
                return [s for value in bound[name] if literal(value) for s in self.render(value, depth + 1)]
        if name in self.imported:
            source, original = self.imported[name]
            other = imported_module(source, self.module.path)
            if other is not None:
                return Scope(other).values(original, depth + 1)
        return []

    def render(self, node: ast.AST, depth: int = 0) -> list[str]:
        """The strings an expression built of literals can be, HOLE where a part is not known."""
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else []
        if isinstance(node, ast.JoinedStr):
            parts = [self.render_part(value, depth) for value in node.values]
            return ["".join(p) for p in itertools.islice(itertools.product(*parts), MAX_RENDERINGS)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.render(node.left, depth), self.render(node.right, depth)
            return [a + b for a, b in itertools.islice(itertools.product(left, right), MAX_RENDERINGS)]
        if isinstance(node, ast.Name):
            return self.values(node.id, depth)
        return [s for child in ast.iter_child_nodes(node) for s in self.render(child, depth)]

    def render_part(self, node: ast.expr, depth: int) -> list[str]:
        if isinstance(node, ast.FormattedValue):
            if isinstance(node.value, ast.Name) and node.format_spec is None:
                values = self.values(node.value.id, depth)
                if values and HOLE not in "".join(values):
                    return [repr(v) if node.conversion == ord("r") else v for v in values]
            return [HOLE]
        return self.render(node, depth) or [HOLE]


def literal(node: ast.AST) -> bool:
    """A value made of string literals (what a test compares against), not a call's result or a test input."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left) and literal(node.right)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(literal(e) or isinstance(e, ast.Name) for e in node.elts)
    return isinstance(node, ast.Name)


def imported_module(name: str, importer: Path) -> Module | None:
    """A module of this repository, found the way the tests import it (their own folder first)."""
    for folder in (importer.parent, ROOT / "tests", ROOT / "tests" / "ops", ROOT):
        candidate = folder / f"{name.replace('.', '/')}.py"
        if candidate.is_file():
            return load(candidate)
    return None


def asserted_strings(test_id: str) -> list[str] | None:
    """The pieces (split at HOLE) of every string the test asserts on; None when the test does not exist."""
    path, _, qualified = test_id.partition("::")
    file = ROOT / path
    if not (qualified and file.is_file()):
        return None
    module = load(file)
    test = find_test(module, qualified)
    if test is None:
        return None
    scope = Scope(module, test)
    checked: list[ast.AST] = []
    for node in ast.walk(test):
        if isinstance(node, ast.Assert):
            checked.append(node.test)
        elif isinstance(node, ast.Call) and (called_name(node.func).startswith("assert") or is_lookup(node)):
            checked += [*node.args, *(k.value for k in node.keywords)]
    strings = [s for node in checked for sub in ast.walk(node) if is_text(sub) for s in scope.render(sub)]
    strings += [regex_text(s) for pattern in raises_patterns(test) for s in scope.render(pattern)]
    return [piece for s in strings for piece in s.split(HOLE) if piece.strip()]


def raises_patterns(test: ast.AST) -> list[ast.expr]:
    """The `match=` of `pytest.raises(…, match=…)`: a regular expression the error message must match."""
    return [
        keyword.value
        for node in ast.walk(test)
        if isinstance(node, ast.Call) and called_name(node.func) == "raises"
        for keyword in node.keywords
        if keyword.arg == "match"
    ]


def regex_text(pattern: str) -> str:
    """The literal text of a simple regular expression: `\\.` is `.`, and `.*`/`.+` are variable parts."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)\.[*+]", HOLE, pattern))


def is_lookup(call: ast.Call) -> bool:
    """`lines.index("…")`: fails the test when the line is missing, as an assertion would."""
    return called_name(call.func) == "index" and bool(call.args) and is_text(call.args[0])


def called_name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr | ast.Name) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def fragments(line: str) -> list[str]:
    """The parts of a quoted line that must occur whole: split at `…` and at column gaps (2+ spaces)."""
    return [part.strip() for part in re.split(r"…| {2,}", line) if part.strip()]


def unasserted(line: str, strings: list[str]) -> list[str]:
    return [part for part in fragments(line) if not any(part in s for s in strings)]


def check(quote: Quote) -> list[str]:
    if not quote.tests:
        return [f"{quote.where}: a quote needs the test that asserts it: <!-- asserted by tests/…py::test_… -->"]
    problems: list[str] = []
    strings: list[str] = []
    for test_id in quote.tests:
        found = asserted_strings(test_id)
        if found is None:
            problems.append(f"{quote.where}: {test_id} does not exist")
        else:
            strings += found
    if problems:
        return problems
    for line in quote.lines:
        if not line.strip() or not line.strip().strip("- "):  # blank, or a table's rule
            continue
        missing = unasserted(line, strings)
        if missing:
            problems.append(f"{quote.where}: {' '.join(quote.tests)} asserts no string holding {missing[0]!r}")
    return problems


# ---------------------------------------------------------------- the tests


def test_every_quote_in_the_docs_is_asserted_by_the_test_it_names() -> None:
    problems: list[str] = []
    for path in doc_files():
        name = str(path.relative_to(ROOT))
        quotes, found = parse(path.read_text(), name, headings_are_quotes=path.name == "troubleshooting.md")
        problems += found
        for quote in quotes:
            problems += check(quote)
    assert problems == []


def test_the_docs_have_quotes_to_check() -> None:
    """A parser that finds nothing would pass everything."""
    counts = {p.name: len(parse(p.read_text(), p.name, headings_are_quotes=True)[0]) for p in doc_files()}
    assert counts["troubleshooting.md"] >= 10 and sum(counts.values()) >= 30, counts


def test_a_quote_without_a_marker_fails() -> None:
    quotes, _ = parse("Prose.\n\n```text\nerror: boom\n```\n", "x.md", headings_are_quotes=False)
    assert [check(q) for q in quotes] == [
        ["x.md:3: a quote needs the test that asserts it: <!-- asserted by tests/…py::test_… -->"]
    ]


def test_a_marker_naming_a_missing_test_fails() -> None:
    doc = "<!-- asserted by tests/test_docs_quotes.py::test_gone -->\n```text\nboom\n```\n"
    quotes, _ = parse(doc, "x.md", headings_are_quotes=False)
    assert check(quotes[0]) == ["x.md:2: tests/test_docs_quotes.py::test_gone does not exist"]


def test_a_line_the_test_does_not_assert_fails_and_ellipses_are_wildcards() -> None:
    me = "tests/test_docs_quotes.py::test_a_marker_naming_a_missing_test_fails"
    doc = f"<!-- asserted by {me} -->\n```text\nx.md:2: … does not exist\nx.md:2: tests/… is gone\n```\n"
    quotes, _ = parse(doc, "y.md", headings_are_quotes=False)
    assert check(quotes[0]) == [f"y.md:2: {me} asserts no string holding 'is gone'"]


def test_troubleshooting_headings_are_quotes_and_inline_messages_in_prose_are_refused() -> None:
    doc = "## Deploy\n\n### ``error: run `x` now``\n\nIt says `error: boom` here; `make up STACK=foo`.\n"
    quotes, problems = parse(doc, "t.md", headings_are_quotes=True)
    assert [(q.where, q.lines) for q in quotes] == [("t.md:3", ["error: run `x` now"])]
    assert problems == ["t.md:5: `error: boom` reads like a printed message: quote it in a ```text block with its test"]


def test_an_fstring_is_split_at_its_unknown_parts_and_joined_at_its_constants() -> None:
    source = (
        "FIX = 'run `aws sso login`'\n"
        "def test_x(err):\n"
        "    assert err == f'rejected ({code(err)}); nothing was destroyed: {FIX}'\n"
    )
    module = Module(Path("t.py"), ast.parse(source))
    test = find_test(module, "test_x")
    assert test is not None
    assert Scope(module, test).render(test.body[0].test) == [  # type: ignore[attr-defined]
        f"rejected ({HOLE}); nothing was destroyed: run `aws sso login`"
    ]
