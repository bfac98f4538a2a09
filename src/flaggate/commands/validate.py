"""`flaggate validate`: every problem in the flag and policy files of a working tree."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from flaggate.errors import ConfigError, GitError, Problem, UsageError
from flaggate.git import Git
from flaggate.layout import Layout, attribute_problems, misplaced_documents
from flaggate.model.load import is_yaml, load_flag, load_policies
from flaggate.model.policyset import PolicySet
from flaggate.source import POLICIES_DIR
from flaggate.yamlio import read_limited, too_large

PARALLEL_THRESHOLD = 2000
"""Below this many flag files, one process is faster than starting workers."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate validate`."""
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a repository root, or files in repositories (as pre-commit passes them): the "
        "repository of each file (its nearest ancestor with .git, else the current directory) "
        "is validated whole, once (default: .)",
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")
    parser.add_argument(
        "--jobs", type=_positive, default=None, help="worker processes (default: one per core)"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Validate the repository of each argument, once each, in the order first named; exit 0
    when none has a problem, 2 otherwise. With several repositories, each one's output is
    preceded by a `== ROOT ==` line on stdout."""
    roots = repository_roots(args.paths or [Path(".")])
    code = 0
    for root in roots:
        if len(roots) > 1:
            print(f"== {root} ==", flush=True)
        code = max(code, validate_repository(root, args.policies, args.jobs))
        sys.stdout.flush()
    return code


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


def validate_repository(root: Path, policies_dir: str, jobs: int | None) -> int:
    """Print one line per problem of the repository at ``root``; 0 when there are none, 2
    otherwise."""
    problems, policies = _check_policies(root, policies_dir)
    flags_dir = policies.settings.spec.flagsPath.strip("/") if policies else "flags"
    envs = policies.environment_names if policies else None
    layout = Layout(flags_dir, policies_dir.strip("/"))
    files = sorted(_yaml_files(root / flags_dir))
    flag_problems, names = check_flags(root, files, envs, jobs)
    problems += flag_problems
    problems += _duplicate_names(names)
    problems += repository_problems(root, layout)
    for problem in sorted(problems):
        print(problem, file=sys.stderr)
    for warning in policies.role_warnings() if policies else ():
        print(f"{policies_dir}/: warning: {warning}", file=sys.stderr)
    summary = f"{len(files)} flag file(s), policies in {policies_dir}/"
    if problems:
        in_policies = sum(1 for p in problems if layout.is_policy(p.path))
        in_flags = sum(1 for p in problems if layout.is_flag_dir_file(p.path))
        counts = f"{in_flags} in {len(files)} flag file(s), {in_policies} in {policies_dir}/"
        others = len(problems) - in_flags - in_policies
        if others:
            counts += f", {others} elsewhere"
        print(f"flaggate: {len(problems)} problem(s): {counts}", file=sys.stderr)
        return 2
    print(f"ok: {summary}: no problems")
    return 0


def _check_policies(root: Path, policies_dir: str) -> tuple[list[Problem], PolicySet | None]:
    directory = root / policies_dir
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for path in sorted(_yaml_files(directory)):
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
    workers = jobs or os.cpu_count() or 1
    if workers > 1 and len(files) >= PARALLEL_THRESHOLD:
        chunks = [files[i::workers] for i in range(workers)]
        problems: list[Problem] = []
        names: list[tuple[str, str]] = []
        with ProcessPoolExecutor(workers) as pool:
            for chunk_problems, chunk_names in pool.map(
                _check_chunk, [root] * workers, chunks, [envs] * workers
            ):
                problems += chunk_problems
                names += chunk_names
        return problems, names
    return _check_chunk(root, files, envs)


def _check_chunk(
    root: Path, files: list[Path], envs: frozenset[str] | None
) -> tuple[list[Problem], list[tuple[str, str]]]:
    problems: list[Problem] = []
    names: list[tuple[str, str]] = []
    for path in files:
        content = _read(root, path, problems)
        if content is None:
            continue
        rel = path.relative_to(root).as_posix()
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


def _yaml_files(directory: Path) -> Iterable[Path]:
    if not directory.is_dir() or directory.is_symlink():
        return []
    return (
        p for p in directory.rglob("*") if is_yaml(p.name) and p.is_file() and not p.is_symlink()
    )


def repository_problems(root: Path, layout: Layout) -> list[Problem]:
    """What the folders may not hold, and what may not lie outside them: symlinks and other
    files that are not regular below the folders, non-YAML flag files, folders that differ
    only by case, flag or policy documents elsewhere, and content-rewriting git attributes."""
    problems: list[Problem] = []
    files, tracked = _repository_files(root)
    governed: list[str] = []
    outside: dict[str, bytes] = {}
    for rel in files:
        path = root / rel
        if not path.exists() and not path.is_symlink():
            continue  # tracked, deleted from the working tree
        problems += layout.case_problems(rel)
        if layout.is_flag_dir_file(rel) or layout.is_policy(rel):
            if path.is_symlink() or not path.is_file():
                kind = "a symlink (mode 120000)" if path.is_symlink() else "not a regular file"
                problems.append(
                    Problem(rel, None, f"is {kind}: flag and policy files must be regular files")
                )
                continue
            if layout.is_flag_dir_file(rel) and not is_yaml(rel):
                problems.append(layout.not_yaml(rel))
            governed.append(rel)
        elif layout.may_hold_documents(rel) and path.is_file() and not path.is_symlink():
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
    rel = path.relative_to(root).as_posix()
    try:
        content = read_limited(path)
    except OSError as exc:
        problems.append(Problem(rel, None, f"cannot read: {exc.strerror}"))
        return None
    if isinstance(content, int):
        problems.append(Problem(rel, 1, too_large(content)))
        return None
    return content
