"""Every flag of a repository at one revision, with the policies that govern it.

Commands that look at the whole flag set (``export``, ``list``, ``show``, publishing on merge)
read it through :func:`load_catalog`: from a commit (git objects as git stores them, through
one ``cat-file --batch`` process) or from the working tree, with the same safe loader as
``validate``. A catalog is all or nothing: any file that does not load, any flag or policy file
that is not a regular file, or two files defining one key raise :class:`ConfigError` listing
every problem, so nothing downstream ever serves a partial flag set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Protocol

from flaggate.defaults import POLICIES_DIR
from flaggate.diff import FlagFile
from flaggate.errors import ConfigError, Problem, UsageError
from flaggate.git import Git, TreeEntry, describe_mode
from flaggate.model.flags import FeatureFlag
from flaggate.model.load import is_yaml, load_flag, load_policies
from flaggate.model.policyset import PolicySet
from flaggate.yamlio import MAX_FILE_BYTES, read_limited, too_large


@dataclass(frozen=True)
class Catalog:
    """The flags (by key, sorted) and policies of a repository at one revision."""

    policies: PolicySet
    flags: Mapping[str, FlagFile]
    revision: str | None
    """The commit read (full id); None for the working tree."""
    flags_dir: str

    def environments(self) -> list[str]:
        """The declared environment names, lowest risk first."""
        return [env.name for env in self.policies.environments]

    def require(self, environments: Iterable[str]) -> None:
        """Raise :class:`UsageError` for the first of ``environments`` not declared."""
        declared = self.environments()
        for environment in environments:
            if environment not in declared:
                known = ", ".join(declared) or "none"
                raise UsageError(f"unknown environment {environment!r} (declared: {known})")


def load_catalog(
    root: Path, ref: str | None = None, policies_dir: str = POLICIES_DIR, git: Git | None = None
) -> Catalog:
    """The catalog of the repository at ``root``: at commit ``ref``, or (None) its working
    tree; ``git``: the repository already at hand (its processes are counted there). Raises
    :class:`ConfigError` with every problem found."""
    policies_dir = policies_dir.strip("/")
    read: _Reader
    if ref is None:
        read, revision = _WorktreeReader(root), None
    else:
        git = git or Git.discover(root)
        revision = git.resolve(ref)
        read = _CommitReader(git, revision)
    policy_files, problems = read(policies_dir)
    if not policy_files and not problems:
        where = f" at {revision[:12]}" if revision else ""
        raise ConfigError([Problem(f"{policies_dir}/", None, f"no policy files{where}")])
    try:
        policies = load_policies(policy_files, complete=not problems)
    except ConfigError as exc:
        raise ConfigError(sorted(set(problems + exc.problems))) from None
    if problems:
        raise ConfigError(sorted(set(problems)))
    flags_dir = policies.settings.spec.flagsPath.strip("/")
    flag_files, problems = read(flags_dir)
    flags, more = unique_flags(flag_files, policies.environment_names)
    problems += more
    if problems:
        raise ConfigError(sorted(set(problems)))
    return Catalog(policies, flags, revision, flags_dir)


def unique_flags(
    files: Mapping[str, bytes], environments: frozenset[str]
) -> tuple[dict[str, FlagFile], list[Problem]]:
    """The flags of ``files`` by key (sorted), and every problem: files that do not load and
    keys defined twice (the first path in order keeps the key)."""
    flags: dict[str, FlagFile] = {}
    problems: list[Problem] = []
    for path, flag, errors in load_flags(files, environments):
        problems += errors
        if flag is None:
            continue
        if flag.key in flags:
            first = flags[flag.key].path
            problems.append(Problem(path, None, f"flag {flag.key!r} is also defined in {first}"))
            continue
        flags[flag.key] = FlagFile(path, flag)
    return dict(sorted(flags.items())), problems


def yaml_files(root: Path, folder: str) -> list[str]:
    """The YAML files below ``folder`` of ``root``, relative to ``root`` and sorted: regular
    files only, linked files and folders left out (they are reported where files are read)."""
    top = root / folder
    if not top.is_dir() or top.is_symlink():
        return []
    found: list[str] = []
    start = top.relative_to(root).as_posix()
    pending = [(top, "" if start == "." else f"{start}/")]
    while pending:
        directory, relative = pending.pop()
        with os.scandir(directory) as listing:  # each entry's type without a stat call
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), f"{relative}{entry.name}/"))
                elif is_yaml(entry.name) and entry.is_file(follow_symlinks=False):
                    found.append(f"{relative}{entry.name}")
    return sorted(found)


def read_folder(root: Path, folder: str = "") -> Files:
    """The YAML files below ``folder`` of ``root`` (paths relative to ``root``), read with the
    size limit; a linked file or folder is a problem, never followed."""
    return _WorktreeReader(root)(folder)


PARALLEL_THRESHOLD = 2000
"""From this many flag files on, they are parsed in worker processes (one per core)."""

Loaded = tuple[str, FeatureFlag | None, list[Problem]]
"""A flag file's path, its flag (None when it does not load) and its problems."""


def load_flags(files: Mapping[str, bytes], environments: frozenset[str]) -> list[Loaded]:
    """Load every flag file (sorted by path); in worker processes when there are many of
    them and more than one core (parsing YAML is most of the cost)."""
    items = sorted(files.items())
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(items) < PARALLEL_THRESHOLD:
        return _load_chunk(items, environments)
    # Several chunks a worker, so that one slow chunk does not hold the others up.
    chunks = [items[i :: workers * 4] for i in range(workers * 4)]
    from concurrent.futures import ProcessPoolExecutor  # only a large repository needs it

    with ProcessPoolExecutor(workers) as pool:
        loaded = [
            entry for part in pool.map(_load_chunk, chunks, repeat(environments)) for entry in part
        ]
    return sorted(loaded, key=lambda entry: entry[0])


def _load_chunk(items: Sequence[tuple[str, bytes]], environments: frozenset[str]) -> list[Loaded]:
    return [(path, *load_flag(path, content, environments)) for path, content in items]


Files = tuple[dict[str, bytes], list[Problem]]
"""YAML files below a folder (path -> bytes) and the problems met reading them."""


class _Reader(Protocol):
    def __call__(self, folder: str) -> Files: ...


def _not_regular(path: str, mode: str) -> Problem:
    return Problem(
        path, None, f"is {describe_mode(mode)}: flag and policy files must be regular files"
    )


@dataclass(frozen=True)
class _CommitReader:
    """YAML files below a folder at a commit, as git stores them."""

    git: Git
    commit: str

    def __call__(self, folder: str) -> Files:
        entries = [e for e in self.git.entries(self.commit, [folder]) if is_yaml(e.path)]
        return tree_files(self.git, entries)


def tree_files(git: Git, entries: Sequence[TreeEntry]) -> Files:
    """The contents of tree ``entries`` (one ``cat-file --batch``): an entry that is not a
    regular file (a symlink, a submodule) or is over the size limit is a problem, not read."""
    problems = [_not_regular(e.path, e.mode) for e in entries if not e.regular]
    regular = [e for e in entries if e.regular]
    blobs = git.read_blobs((e.oid for e in regular), MAX_FILE_BYTES)
    files: dict[str, bytes] = {}
    for entry in regular:
        content = blobs[entry.oid]
        if isinstance(content, int):
            problems.append(Problem(entry.path, 1, too_large(content)))
        else:
            files[entry.path] = content
    return files, problems


@dataclass(frozen=True)
class _WorktreeReader:
    """YAML files below a folder of the working tree, read with the size limit; a symlink (a
    linked file or folder) is a problem, never followed."""

    root: Path

    def __call__(self, folder: str) -> Files:
        problems: list[Problem] = []
        files: dict[str, bytes] = {}
        top = self.root / folder
        if top.is_symlink():
            return files, [_not_regular(folder, "120000")]
        if not top.is_dir():
            return files, problems
        self._walk(top, files, problems)
        return dict(sorted(files.items())), problems

    def _walk(self, folder: Path, files: dict[str, bytes], problems: list[Problem]) -> None:
        # scandir knows each entry's type without a stat call per file.
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():  # a linked folder or YAML file: reported, never followed
                if is_yaml(entry.name) or entry.is_dir():
                    problems.append(_not_regular(self._relative(path), "120000"))
            elif entry.is_dir():
                self._walk(path, files, problems)
            elif is_yaml(entry.name) and entry.is_file():
                self._read(path, files, problems)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, path: Path, files: dict[str, bytes], problems: list[Problem]) -> None:
        rel = self._relative(path)
        try:
            content = read_limited(path)
        except OSError as exc:
            problems.append(Problem(rel, None, f"cannot read: {exc.strerror}"))
            return
        if isinstance(content, int):
            problems.append(Problem(rel, 1, too_large(content)))
        else:
            files[rel] = content
