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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flaggate.errors import ConfigError, Problem
from flaggate.git import Git, TreeEntry, describe_mode
from flaggate.model.flags import FeatureFlag
from flaggate.model.load import is_yaml, load_flag, load_policies
from flaggate.model.policyset import PolicySet
from flaggate.yamlio import MAX_FILE_BYTES, read_limited, too_large

POLICIES_DIR = "policies"


@dataclass(frozen=True)
class CatalogEntry:
    """One flag and the file (relative to the repository root) that defines it."""

    path: str
    flag: FeatureFlag


@dataclass(frozen=True)
class Catalog:
    """The flags (by key, sorted) and policies of a repository at one revision."""

    policies: PolicySet
    flags: Mapping[str, CatalogEntry]
    revision: str | None
    """The commit read (full id); None for the working tree."""
    flags_dir: str

    def environments(self) -> list[str]:
        """The declared environment names, lowest risk first."""
        return [env.name for env in self.policies.environments]


def load_catalog(root: Path, ref: str | None = None, policies_dir: str = POLICIES_DIR) -> Catalog:
    """The catalog of the repository at ``root``: at commit ``ref``, or (None) its working
    tree. Raises :class:`ConfigError` with every problem found."""
    policies_dir = policies_dir.strip("/")
    read: _Reader
    if ref is None:
        read, revision = _WorktreeReader(root), None
    else:
        git = Git.discover(root)
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
    envs = policies.environment_names
    flags: dict[str, CatalogEntry] = {}
    for path, content in sorted(flag_files.items()):
        flag, errors = load_flag(path, content, envs)
        problems += errors
        if flag is None:
            continue
        if flag.key in flags:
            first = flags[flag.key].path
            problems.append(Problem(path, None, f"flag {flag.key!r} is also defined in {first}"))
            continue
        flags[flag.key] = CatalogEntry(path, flag)
    if problems:
        raise ConfigError(sorted(set(problems)))
    return Catalog(policies, dict(sorted(flags.items())), revision, flags_dir)


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
        for directory, folders, names in os.walk(top):
            here = Path(directory)
            linked = {name for name in folders if (here / name).is_symlink()}
            for name in sorted(linked):
                problems.append(_not_regular(self._relative(here / name), "120000"))
            folders[:] = [name for name in folders if name not in linked]
            for name in names:
                if is_yaml(name):
                    self._read(here / name, files, problems)
        return dict(sorted(files.items())), problems

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, path: Path, files: dict[str, bytes], problems: list[Problem]) -> None:
        rel = self._relative(path)
        if path.is_symlink():
            problems.append(_not_regular(rel, "120000"))
            return
        if not path.is_file():
            return
        try:
            content = read_limited(path)
        except OSError as exc:
            problems.append(Problem(rel, None, f"cannot read: {exc.strerror}"))
            return
        if isinstance(content, int):
            problems.append(Problem(rel, 1, too_large(content)))
        else:
            files[rel] = content
