"""Validating working trees: every problem in the flag and policy files, as text, GitHub
annotations or JSON (the work of `flaggate validate`)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flaggate.annotations import in_github_actions, problem_command
from flaggate.catalog import PARALLEL_THRESHOLD, yaml_files
from flaggate.errors import ConfigError, GitError, Problem, UsageError
from flaggate.git import Git
from flaggate.layout import Layout, attribute_problems, misplaced_documents
from flaggate.model.load import is_yaml, load_flag, load_policies, position
from flaggate.model.policyset import PolicySet
from flaggate.yamlio import YamlError, load_documents, read_limited, too_large


def run(args: argparse.Namespace) -> int:
    """Validate the repository of each argument, once each, in the order first named; exit 0
    when none has a problem, 2 otherwise. With several repositories, each one's text output is
    preceded by a `== ROOT ==` line on stdout (JSON: one list, paths prefixed by the root)."""
    output = args.format or ("github" if in_github_actions() else "text")
    roots = repository_roots(args.paths or [Path(".")])
    code = 0
    found: list[dict[str, Any]] = []
    for root in roots:
        if len(roots) > 1 and output != "json":
            print(f"== {root} ==", flush=True)
        report = validate_repository(root, args.policies, args.jobs)
        prefix = "" if len(roots) == 1 else _prefix(root)
        if output == "json":
            found += report.json(prefix)
        else:
            report.print_text()
            if output == "github":
                report.print_commands(_workspace_prefix(root))
        code = max(code, report.exit_code)
        sys.stdout.flush()
    if output == "json":
        print(json.dumps(found, indent=2, ensure_ascii=False))
    return code


def _prefix(root: Path) -> str:
    """``root/`` for paths reported relative to ``root``; empty for the current directory."""
    text = os.path.normpath(root)
    return "" if text == "." else text.rstrip("/") + "/"


def _workspace_prefix(root: Path) -> str:
    """The folder of ``root`` relative to the workspace (``GITHUB_WORKSPACE``, else the current
    directory), which is what an annotation's ``file`` is relative to."""
    workspace = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    return _prefix(Path(os.path.relpath(root.resolve(), Path(workspace).resolve())))


@dataclass
class Report:
    """What validating one repository found."""

    problems: list[Problem]
    warnings: list[Problem]
    files: int
    policies_dir: str
    layout: Layout

    @property
    def exit_code(self) -> int:
        """0 without problems (warnings do not count), 2 otherwise."""
        return 2 if self.problems else 0

    def print_text(self) -> None:
        """Problems and warnings on stderr, then the summary (``ok: ...`` on stdout)."""
        for problem in self.problems:
            print(problem, file=sys.stderr)
        for warning in self.warnings:
            print(f"{self.policies_dir}/: warning: {warning.text}", file=sys.stderr)
        if self.problems:
            print(f"flaggate: {len(self.problems)} problem(s): {self.summary()}", file=sys.stderr)
        else:
            summary = f"{self.files} flag file(s), policies in {self.policies_dir}/"
            print(f"ok: {summary}: no problems")

    def summary(self) -> str:
        """Where the problems are: ``2 in 41 flag file(s), 1 in policies/``."""
        in_policies = sum(1 for p in self.problems if self.layout.is_policy(p.path))
        in_flags = sum(1 for p in self.problems if self.layout.is_flag_dir_file(p.path))
        counts = f"{in_flags} in {self.files} flag file(s), {in_policies} in {self.policies_dir}/"
        others = len(self.problems) - in_flags - in_policies
        return counts + (f", {others} elsewhere" if others else "")

    def print_commands(self, prefix: str) -> None:
        """One workflow command per problem (``::error``) and warning (``::warning``)."""
        for problem in self.problems:
            print(problem_command(problem, prefix))
        for warning in self.warnings:
            print(problem_command(warning, prefix, "warning"))

    def json(self, prefix: str) -> list[dict[str, Any]]:
        """Problems, then warnings, as schemas/validate-output.schema.json describes."""
        return [
            _problem_json(problem, prefix, severity)
            for severity, group in (("error", self.problems), ("warning", self.warnings))
            for problem in group
        ]


def _problem_json(problem: Problem, prefix: str, severity: str) -> dict[str, Any]:
    return {
        "file": prefix + problem.path,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
        "hint": problem.hint,
        "severity": severity,
    }


def repository_roots(paths: list[Path]) -> list[Path]:
    """The repositories to validate, without repeats: a directory is a repository root (as
    given); a file belongs to its nearest ancestor holding ``.git``, else to the current
    directory. A path that does not exist is a usage error."""
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    roots: dict[Path, Path] = {}
    for path in paths:
        root = path if path.is_dir() else _repository_of(path)
        roots.setdefault(root.resolve(), root)
    return list(roots.values())


def _repository_of(path: Path) -> Path:
    """The nearest folder above ``path`` holding ``.git`` (a folder, or a file in a worktree
    or submodule), relative to the current directory; else the current directory. A symlink
    belongs to the repository it lies in, not to the one of its target."""
    start = path.parent.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return Path(os.path.relpath(folder))
    return Path(".")


def validate_repository(root: Path, policies_dir: str, jobs: int | None) -> Report:
    """Every problem of the repository at ``root`` (sorted), and the warnings about roles
    nobody can hold."""
    problems, policies = _check_policies(root, policies_dir)
    flags_dir = policies.settings.spec.flagsPath.strip("/") if policies else "flags"
    envs = policies.environment_names if policies else None
    layout = Layout(flags_dir, policies_dir.strip("/"))
    files = yaml_files(root, flags_dir)
    # The repository's own checks run here while worker processes parse the flag files.
    flag_problems, names, elsewhere = _check_flags_and(
        root, files, envs, jobs, lambda: repository_problems(root, layout)
    )
    problems += flag_problems
    problems += _duplicate_names(names)
    problems += elsewhere
    warnings = role_warnings(policies, policies_dir) if policies else []
    return Report(sorted(problems), warnings, len(files), policies_dir, layout)


def role_warnings(policies: PolicySet, policies_dir: str) -> list[Problem]:
    """:meth:`PolicySet.role_warnings`, each located where the role would be bound: its entry
    in RoleBindings when it has one, else the ``roles:`` key (or the policy folder)."""
    warnings = policies.role_warnings()
    where = _role_entries(policies) if warnings else {}
    located = []
    for warning in warnings:
        role = next((r for r in where if warning.startswith(f"role {r!r} ")), None)
        path, line, column = where.get(role or "", where.get("", (f"{policies_dir}/", None, None)))
        located.append(Problem(path, line, warning, column))
    return located


def _role_entries(policies: PolicySet) -> dict[str, tuple[str, int | None, int | None]]:
    """Where each role of RoleBindings is bound (path, line, column); ``""``: the ``roles:``
    key itself, where a missing role would go."""
    for path, content in sorted(policies.files.items()):
        try:
            documents = load_documents(content)
        except YamlError:
            continue
        for doc in documents:
            if not isinstance(doc.data, dict) or doc.data.get("kind") != "RoleBindings":
                continue
            entries: dict[str, tuple[str, int | None, int | None]] = {
                "": (path, *position(doc, ("spec", "roles")))
            }
            for role in policies.roles:
                entries[role] = (path, *position(doc, ("spec", "roles", role)))
            return entries
    return {}


def _check_policies(root: Path, policies_dir: str) -> tuple[list[Problem], PolicySet | None]:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for path in (root / rel for rel in yaml_files(root, policies_dir)):
        content = _read(root, path, problems)
        if content is not None:
            files[path.relative_to(root).as_posix()] = content
    if not files and not problems:
        return [Problem(f"{policies_dir}/", None, "no policy files found")], None
    try:
        return problems, load_policies(files, complete=not problems)
    except ConfigError as exc:
        return problems + exc.problems, None


def check_flags(
    root: Path, files: list[Path], envs: frozenset[str] | None, jobs: int | None = None
) -> tuple[list[Problem], list[tuple[str, str]]]:
    """Problems of every flag file and the (flag key, path) of each that loaded."""
    rels = [path.relative_to(root).as_posix() for path in files]
    problems, names, _ = _check_flags_and(root, rels, envs, jobs, lambda: None)
    return problems, names


T = TypeVar("T")


def _check_flags_and(
    root: Path,
    files: list[str],
    envs: frozenset[str] | None,
    jobs: int | None,
    meanwhile: Callable[[], T],
) -> tuple[list[Problem], list[tuple[str, str]], T]:
    """:func:`check_flags`, with ``meanwhile`` run in this process while workers (from
    :data:`PARALLEL_THRESHOLD` files on) parse the flag files."""
    workers = jobs or os.cpu_count() or 1
    if workers < 2 or len(files) < PARALLEL_THRESHOLD:
        problems, names = _check_chunk(str(root), files, envs)
        return problems, names, meanwhile()
    chunks = [files[i::workers] for i in range(workers)]
    problems = []
    names = []
    # Parsing allocates many small objects and frees none of them: the cyclic collector
    # would only walk them again (a third of the time).
    with ProcessPoolExecutor(workers, initializer=gc.disable) as pool:
        pending = [pool.submit(_check_chunk, str(root), chunk, envs) for chunk in chunks]
        other = meanwhile()
        for future in pending:
            chunk_problems, chunk_names = future.result()
            problems += chunk_problems
            names += chunk_names
    return problems, names, other


def _check_chunk(
    root: str, files: list[str], envs: frozenset[str] | None
) -> tuple[list[Problem], list[tuple[str, str]]]:
    """Check the flag files ``files`` (relative to ``root``); plain strings, not paths:
    pathlib's parsing cost a fifth of the time here."""
    problems: list[Problem] = []
    names: list[tuple[str, str]] = []
    for rel in files:
        content = _read_file(os.path.join(root, rel), rel, problems)
        if content is None:
            continue
        flag, errors = load_flag(rel, content, envs)
        problems += errors
        if flag is not None:
            names.append((flag.key, rel))
    return problems, names


def _duplicate_names(names: Iterable[tuple[str, str]]) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for key, path in sorted(names, key=lambda item: item[1]):
        if key in first:
            problems.append(Problem(path, None, f"flag {key!r} is also defined in {first[key]}"))
        else:
            first[key] = path
    return problems


def repository_problems(root: Path, layout: Layout) -> list[Problem]:
    """What the folders may not hold, and what may not lie outside them: symlinks and other
    files that are not regular below the folders, non-YAML flag files, folders that differ
    only by case, flag or policy documents elsewhere, and content-rewriting git attributes."""
    problems: list[Problem] = []
    files, tracked = _repository_files(root)
    governed: list[str] = []
    outside: dict[str, bytes] = {}
    base = str(root)
    for rel in files:
        path = os.path.join(base, rel)
        try:  # one lstat a file: a stat each for exists, is_symlink and is_file cost 3x
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue  # tracked, deleted from the working tree
        problems += layout.case_problems(rel)
        if layout.is_flag_dir_file(rel) or layout.is_policy(rel):
            if not stat.S_ISREG(mode):
                link = stat.S_ISLNK(mode)
                kind = "a symlink (mode 120000)" if link else "not a regular file"
                problems.append(
                    Problem(rel, None, f"is {kind}: flag and policy files must be regular files")
                )
                continue
            if layout.is_flag_dir_file(rel) and not is_yaml(rel):
                problems.append(layout.not_yaml(rel))
            governed.append(rel)
        elif layout.may_hold_documents(rel) and stat.S_ISREG(mode):
            content = read_limited(path)
            if isinstance(content, bytes):
                outside[rel] = content
    problems += misplaced_documents(layout, outside)
    if tracked is not None:  # a git repository: its attributes apply
        problems += attribute_problems(Git(root), None, governed)
    return problems


def _repository_files(root: Path) -> tuple[list[str], list[str] | None]:
    """Every file of the working tree, relative to ``root``, and whether git listed them:
    git's own listing (tracked and untracked, ignored ones left out) in a repository, else a
    walk that skips hidden folders."""
    try:
        out = Git(root).run(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        listed = sorted(p for p in out.decode().split("\0") if p)
        return listed, listed
    except GitError:
        pass
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.is_file() or path.is_symlink():
            found.append(rel.as_posix())
    return sorted(found), None


def _read(root: Path, path: Path, problems: list[Problem]) -> bytes | None:
    return _read_file(path, path.relative_to(root).as_posix(), problems)


def _read_file(path: Path | str, rel: str, problems: list[Problem]) -> bytes | None:
    """The file's bytes, or None with a problem about ``rel`` (unreadable, too large)."""
    try:
        content = read_limited(path)
    except OSError as exc:
        problems.append(Problem(rel, None, f"cannot read: {exc.strerror}"))
        return None
    if isinstance(content, int):
        problems.append(Problem(rel, 1, too_large(content)))
        return None
    return content
