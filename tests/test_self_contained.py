"""The tests and benchmarks read nothing outside the repository.

A fresh clone has only what is committed, so every path the Python sources under ``tests/``
and ``benchmarks/`` name must stay inside the project. Third-party samples live in
``tests/data`` (see its ``SOURCES.md``). The checks:

- text: no path into the ``data`` folder of a ``shared`` directory beside the checkout, no
  ``FLAGGATE_SHARED_*`` override variable and no absolute path under ``/work`` (prose such
  as "shared by the module" is fine);
- code: no ``"shared"`` path component joined with ``/`` or ``os.path.join``;
- code: no path built from ``__file__`` climbs above the project root. Each path expression
  is followed through ``.parent``, ``.parents[n]``, ``os.path.dirname``, ``/ ".."``,
  module-level names and names imported from other modules of ``tests``/``benchmarks``.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SCANNED = ("tests", "benchmarks")

# The patterns are spelled so that this file does not match them ("[_]" is "_", "[/]" is "/").
FORBIDDEN_TEXT = {
    "names the shared data folder": re.compile(r"\bshared[/\\]+data\b"),
    "climbs into a sibling 'shared' folder": re.compile(r"\.\.[/\\]+shared\b"),
    "reads the shared-data override variable": re.compile(r"\bFLAGGATE_SHARED[_]DATA\b"),
    "names an absolute /work path": re.compile(r"(?<![\w.~-])/work[/]"),
}

_IDENTITY = {"resolve", "absolute", "expanduser", "abspath", "realpath", "normpath", "Path", "str"}
"""Calls whose result is at the same place as their (first) argument or object."""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def sources() -> list[Path]:
    return sorted(p for top in SCANNED for p in (PROJECT / top).rglob("*.py") if p.is_file())


def module_file(module: str) -> Path | None:
    """The file of a ``tests``/``benchmarks`` module, if it is one."""
    if module.split(".")[0] not in SCANNED:
        return None
    base = PROJECT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class _Depths(ast.NodeVisitor):
    """Depth below the project root (0: the root, -1: its parent) of path expressions."""

    def __init__(self, file: Path, source: str) -> None:
        self.file = file
        self.depth_of_file = len(file.relative_to(PROJECT).parts)
        self.names: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.tree = ast.parse(source, filename=str(file))

    def run(self) -> _Depths:
        for node in self.tree.body:  # names first, in order, so later uses know them
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                other = module_file(node.module)
                if other is not None and other != self.file:
                    imported = module_names(other)
                    for alias in node.names:
                        if alias.name in imported:
                            self.names[alias.asname or alias.name] = imported[alias.name]
            if isinstance(node, ast.Assign | ast.AnnAssign):
                self._assign(node)
        self.visit(self.tree)
        return self

    def _assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None:
            return
        depth = self.depth(node.value)
        for target in targets:
            if isinstance(target, ast.Name) and depth is not None:
                self.names[target.id] = depth

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assign(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div) and _is_str(node.right, "shared"):
            self._problem(node, "joins a 'shared' path component")
        self.depth(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _call_name(node) == "join" and any(_is_str(a, "shared") for a in node.args):
            self._problem(node, "joins a 'shared' path component")
        self.depth(node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.depth(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.depth(node)
        self.generic_visit(node)

    def _problem(self, node: ast.AST, what: str) -> None:
        problem = Problem(str(self.file.relative_to(PROJECT)), getattr(node, "lineno", 0), what)
        if problem not in self.problems:
            self.problems.append(problem)

    def _checked(self, node: ast.AST, depth: int | None) -> int | None:
        if depth is not None and depth < 0:
            self._problem(node, f"a path from __file__ climbs {-depth} level(s) above the root")
        return depth

    def depth(self, node: ast.AST) -> int | None:
        """The depth of the path ``node`` evaluates to, or ``None`` if it is not one we know."""
        if isinstance(node, ast.Name):
            return self.depth_of_file if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.depth(node.value)
            return self._checked(node, None if base is None else base - 1)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            base = self.depth(node.value.value)
            return self._checked(node, None if base is None else base - node.slice.value - 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            base = self.depth(node.left)
            if base is None or not isinstance(node.right, ast.Constant):
                return None
            return self._down(node, base, str(node.right.value))
        if isinstance(node, ast.Call):
            name = _call_name(node)
            inner = node.func.value if isinstance(node.func, ast.Attribute) else None
            subject = node.args[0] if node.args else inner
            if subject is None:
                return None
            if name == "dirname":
                base = self.depth(subject)
                return self._checked(node, None if base is None else base - 1)
            if name in _IDENTITY:
                return self.depth(subject)
            if name in {"joinpath", "join"}:
                start = inner if name == "joinpath" else subject
                parts = node.args if name == "joinpath" else node.args[1:]
                base = None if start is None else self.depth(start)
                for part in parts:
                    if base is None or not isinstance(part, ast.Constant):
                        return None
                    base = self._down(node, base, str(part.value))
                return base
        return None

    def _down(self, node: ast.AST, depth: int, relative: str) -> int | None:
        for segment in re.split(r"[/\\]+", relative):
            if segment == "..":
                depth -= 1
                if self._checked(node, depth) is None:
                    return None
            elif segment not in {"", "."}:
                depth += 1
        return depth


def _is_str(node: ast.AST, value: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


@functools.cache
def module_names(file: Path) -> dict[str, int]:
    """Depths of the module-level path names of another scanned module."""
    return _Depths(file, file.read_text(encoding="utf-8")).run().names


def problems_in(file: Path, source: str) -> list[Problem]:
    found = []
    relative = str(file.relative_to(PROJECT))
    for number, line in enumerate(source.splitlines(), start=1):
        for what, pattern in FORBIDDEN_TEXT.items():
            if pattern.search(line):
                found.append(Problem(relative, number, what))
    return found + _Depths(file, source).run().problems


def test_the_scan_covers_the_tests_and_the_benchmarks() -> None:
    files = sources()
    assert PROJECT / "tests" / "fakes" / "github_samples.py" in files
    assert PROJECT / "tests" / "github_env.py" in files
    assert any(p.parent.name == "benchmarks" for p in files)


def test_no_test_or_benchmark_names_a_path_outside_the_repository() -> None:
    found = [str(p) for f in sources() for p in problems_in(f, f.read_text(encoding="utf-8"))]
    assert found == []


def test_the_sample_data_is_inside_the_repository() -> None:
    data = PROJECT / "tests" / "data"
    assert (data / "SOURCES.md").is_file()
    for name in ("github/webhooks", "github/rest", "jira", "schemas", "licenses"):
        assert (data / name).is_dir(), name


# --- the checker itself ------------------------------------------------------------------------
# The bad snippets are assembled from pieces, so that this file passes its own text checks.

SHARED = "sha" + "red"
BAD = [
    f'DATA = Path(os.environ.get("FLAGGATE_{SHARED.upper()}_DATA", ROOT))',
    f'WEBHOOKS = Path(__file__).resolve().parent.parent.parent / "{SHARED}" / "data"',
    "WEBHOOKS = Path(__file__).resolve().parent.parent.parent / 'elsewhere'",
    'ROOT = Path(__file__).resolve().parents[1]\nDATA = ROOT.parent / "data"',
    'DATA = Path(__file__).resolve().parent / ".." / ".." / "x"',
    'DATA = Path(__file__).parent / "../../x"',
    "DATA = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))",
    'DATA = os.path.join(os.path.dirname(__file__), "..", "..", "x")',
    'DATA = Path(__file__).resolve().parent.joinpath("..", "..")',
    f'"""Samples from ``../{SHARED}/data/github``."""',
    'DATA = Path("/wo' + "rk/" + SHARED + '")',
    "# see /wo" + "rk/" + SHARED,
    "DATA = Path(__file__).resolve().parents[5]",
    'load(Path(__file__).parents[3] / "x")',
    'from tests.gitrepo import PROJECT\nX = PROJECT.parent / "x"',
]
GOOD = [
    '"""One server is shared by the whole module; a shared helper."""',
    'POLICIES = Path(__file__).resolve().parent.parent / "policies"',
    'GRAPHQL = Path(__file__).resolve().parents[1] / "src/flaggate/x.graphql"',
    'DATA = Path(__file__).resolve().parent / "data" / "github"',
    'sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))',
    'shared = self.fresh("caches")',
    'repo.symlink_to("../growth/search-ranking.yaml")',
    'BAD_PATHS = ["/abs/path", "../..", "flags/../..", "/etc/passwd"]',
    'URL = "https://example.com/work/items"',
    "X = node.parent.parent.parent.parent",
    'from tests.gitrepo import PROJECT\nX = PROJECT / "flags"',
]


@pytest.mark.parametrize("source", BAD)
def test_the_checker_flags_paths_outside_the_repository(source: str) -> None:
    assert problems_in(PROJECT / "tests" / "example.py", source) != []


@pytest.mark.parametrize("source", GOOD)
def test_the_checker_accepts_paths_inside_the_repository(source: str) -> None:
    assert problems_in(PROJECT / "tests" / "example.py", source) == []


def test_the_checker_knows_how_deep_each_file_is() -> None:
    source = 'DATA = Path(__file__).resolve().parents[2] / "x"'
    assert problems_in(PROJECT / "tests" / "fakes" / "example.py", source) == []
    assert problems_in(PROJECT / "tests" / "example.py", source) != []
