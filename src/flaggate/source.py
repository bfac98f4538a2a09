"""Reading both sides of a change from git: policies from the base, flags from both sides.

The cost follows the size of the change, not of the repository: git lists the changed paths,
and one ``cat-file --batch`` process reads all the blobs needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from flaggate.diff import Change, FlagFile, diff_flags, diff_policy_files
from flaggate.errors import ConfigError, Problem
from flaggate.git import NULL_SHA, Git
from flaggate.model.flags import FeatureFlag
from flaggate.model.load import PolicySet, is_yaml, load_flag, load_policies
from flaggate.yamlio import MAX_FILE_BYTES, read_limited, too_large

POLICIES_DIR = "policies"


@dataclass(frozen=True)
class Comparison:
    """Everything an evaluation needs from git."""

    base_sha: str
    head_sha: str | None
    diff_base: str
    policies: PolicySet
    changes: list[Change]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base_flags: dict[str, FlagFile] = field(default_factory=dict)
    """The changed flags as they are at the diff base, by key."""
    head_flags: dict[str, FlagFile] = field(default_factory=dict)
    """The changed flags as they are at head, by key."""


def read_policies(git: Git, commit: str, policies_dir: str = POLICIES_DIR) -> PolicySet:
    """Load the policy files as they are at ``commit``; raise ConfigError when they don't load."""
    entries = git.tree(commit, [policies_dir])
    blobs = git.read_blobs((blob for blob, _ in entries), MAX_FILE_BYTES)
    files: dict[str, bytes] = {}
    problems = []
    for blob, path in entries:
        content = blobs[blob]
        if isinstance(content, int):
            problems.append(Problem(path, None, too_large(content)))
        else:
            files[path] = content
    if problems:
        raise ConfigError(problems)
    if not entries:
        raise ConfigError([Problem(f"{policies_dir}/", None, f"no policy files at {commit[:12]}")])
    return load_policies(files)


def compare(
    git: Git,
    base_ref: str,
    head_ref: str | None,
    policies_dir: str = POLICIES_DIR,
    policies: PolicySet | None = None,
) -> Comparison:
    """Diff flags and policies between ``base_ref`` and ``head_ref`` (None: the working tree).

    Policies always come from ``base_ref`` (pass ``policies`` already read from it to skip
    reading them again). Flags are diffed from the merge base of the two sides, as a pull
    request shows them.
    """
    base_sha, tip = git.resolve_all([base_ref, head_ref if head_ref is not None else "HEAD"])
    head_sha = tip if head_ref is not None else None
    diff_base = base_sha if base_sha == tip else git.merge_base(base_sha, tip)
    if policies is None:
        policies = read_policies(git, base_sha, policies_dir)
    flags_dir = policies.settings.spec.flagsPath.strip("/")
    raw = git.diff(diff_base, head_sha, [flags_dir, policies_dir])
    added = [] if head_sha is not None else git.untracked([flags_dir, policies_dir])
    worktree = head_sha is None

    wanted = [c.old_blob for c in raw] + ([] if worktree else [c.new_blob for c in raw])
    blobs = git.read_blobs(wanted, MAX_FILE_BYTES)

    old_files: dict[str, bytes | int | None] = {}
    new_files: dict[str, bytes | int | None] = {}
    for c in raw:
        old_files[c.path] = blobs.get(c.old_blob) if c.old_blob != NULL_SHA else None
        if c.status == "D":
            new_files[c.path] = None
        elif worktree:
            new_files[c.path] = _read_file(git.root / c.path)
        else:
            new_files[c.path] = blobs.get(c.new_blob)
    for path in added:
        old_files.setdefault(path, None)
        new_files[path] = _read_file(git.root / path)

    problems: list[Problem] = []
    notes: list[str] = []
    envs = policies.environment_names
    base_flags: dict[str, FlagFile] = {}
    head_flags: dict[str, FlagFile] = {}
    for path in sorted(new_files):
        if not _is_flag_path(path, flags_dir):
            continue
        old, new = old_files.get(path), new_files[path]
        if old is not None:
            flag, errors = _load(path, old, None)
            if flag is not None:
                base_flags[flag.key] = FlagFile(path, flag)
            else:
                notes.append(
                    f"{path}: the base version does not load; every environment counts as changed"
                )
        if new is not None:
            flag, errors = _load(path, new, envs)
            problems += errors
            if flag is not None:
                if flag.key in head_flags:
                    problems.append(
                        Problem(
                            path,
                            None,
                            f"flag {flag.key!r} is also defined in {head_flags[flag.key].path}",
                        )
                    )
                head_flags[flag.key] = FlagFile(path, flag)
    created = [
        path
        for path, content in new_files.items()
        if content is not None and old_files.get(path) is None and _is_flag_path(path, flags_dir)
    ]
    if created:
        problems += _clashing_names(git, head_sha, flags_dir, created)

    changes = diff_flags(base_flags, head_flags, [e.name for e in policies.environments])
    policy_new = {
        path: content
        for path, content in new_files.items()
        if PurePosixPath(path).is_relative_to(policies_dir)
    }
    policy_old = {path: old for path in policy_new if (old := old_files.get(path)) is not None}
    changes += diff_policy_files(policy_old, policy_new)
    return Comparison(
        base_sha, head_sha, diff_base, policies, changes, problems, notes, base_flags, head_flags
    )


def _is_flag_path(path: str, flags_dir: str) -> bool:
    return PurePosixPath(path).is_relative_to(flags_dir) and is_yaml(path)


def _load(
    path: str, content: bytes | int, envs: frozenset[str] | None
) -> tuple[FeatureFlag | None, list[Problem]]:
    if isinstance(content, int):
        return None, [Problem(path, None, too_large(content))]
    return load_flag(path, content, envs)


def _read_file(path: Path) -> bytes | int | None:
    try:
        return read_limited(path)
    except FileNotFoundError:
        return None


def _clashing_names(
    git: Git, head_sha: str | None, flags_dir: str, created: list[str]
) -> list[Problem]:
    """A new flag file whose stem another file below ``flags/`` already uses."""
    if head_sha is not None:
        paths = [path for _, path in git.tree(head_sha, [flags_dir])]
    else:
        out = git.run(
            ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", flags_dir]
        )
        paths = [p for p in out.decode().split("\0") if p and (git.root / p).exists()]
    by_stem: dict[str, list[str]] = {}
    for path in paths:
        if is_yaml(path):
            by_stem.setdefault(PurePosixPath(path).stem, []).append(path)
    problems = []
    for path in created:
        others = [p for p in by_stem.get(PurePosixPath(path).stem, []) if p != path]
        if others:
            problems.append(Problem(path, None, f"flag name clashes with {', '.join(others)}"))
    return problems
