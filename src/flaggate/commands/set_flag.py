"""`flaggate set FLAG ENV ...`: change what a flag serves in one environment, safely.

The file is edited in place (:mod:`flaggate.editing`: only the touched lines change, comments
and layout stay), the result is validated with flaggate's own loader against the declared
environments before anything is written, and written atomically. The semantic change is
printed as `flaggate plan` shows it. With ``--branch`` the change is committed, alone, on a new
branch ready for a pull request.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from flaggate.catalog import read_folder, yaml_files
from flaggate.commands.listing import aligned, repository_root
from flaggate.commands.show import approval_needed, describe_stages
from flaggate.defaults import POLICIES_DIR
from flaggate.diff import Change, FlagFile, describe_state, diff_flags, targeting_results
from flaggate.editing import EnvironmentEdit, edit_environment, write_atomically
from flaggate.errors import ConfigError, GitError, Problem, UsageError
from flaggate.git import Git
from flaggate.model.flags import ROLLOUT_TOLERANCE, FeatureFlag
from flaggate.model.load import load_flag, load_policies
from flaggate.model.policyset import PolicySet
from flaggate.model.suggest import did_you_mean
from flaggate.policy import rules as rule_engine
from flaggate.policy.result import StageRequirement
from flaggate.yamlio import MAX_FILE_BYTES, YamlError, load_documents, read_limited, too_large

STDIN = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate set`."""
    parser.add_argument("flag", metavar="FLAG", help="the flag's key (its file's stem)")
    parser.add_argument("environment", metavar="ENV", help="a declared environment")
    toggle = parser.add_mutually_exclusive_group()
    toggle.add_argument(
        "--on", dest="enabled", action="store_const", const=True, help="enable the flag"
    )
    toggle.add_argument(
        "--off", dest="enabled", action="store_const", const=False, help="disable the flag"
    )
    serve = parser.add_mutually_exclusive_group()
    serve.add_argument("--variant", metavar="V", help="serve this declared variant")
    serve.add_argument(
        "--rollout",
        metavar="V=PCT,...",
        help="split traffic, e.g. on=25,off=75 (percentages sum to 100; decimals allowed)",
    )
    rules = parser.add_mutually_exclusive_group()
    rules.add_argument(
        "--targeting",
        metavar="FILE",
        help="flagd/JSONLogic rules from a JSON or YAML file (- reads standard input)",
    )
    rules.add_argument("--no-targeting", action="store_true", help="remove the targeting rules")
    add_write_options(parser)


def add_write_options(parser: argparse.ArgumentParser) -> None:
    """``--branch``, ``-C`` and ``--policies``, shared with `flaggate create`."""
    parser.add_argument(
        "--branch",
        metavar="NAME",
        help="commit the change, alone, on this new branch (switched to), ready for a pull request",
    )
    parser.add_argument(
        "-C", "--repo", type=Path, default=Path("."), help="repository path (default: .)"
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def run(args: argparse.Namespace) -> int:
    """Edit, validate, write (and commit with ``--branch``); 0 when done or nothing changes,
    2 when refused (the file is then untouched)."""
    workspace = Workspace.open(repository_root(args.repo), args.policies)
    environment = workspace.environment(args.environment)
    path = workspace.find(args.flag)
    text, before = workspace.read_flag(path)
    edit = requested_edit(args, before, path)
    if environment not in before.spec.environments and edit.enabled is None:
        raise UsageError(
            f"{path}: {args.flag} has no {environment!r} environment yet: "
            "say --on or --off to add it"
        )
    edited = edit_environment(text, path, environment, edit)
    after = workspace.check(path, edited)
    subject = f"{args.flag}: {environment}: {_summary(before, after, environment)}"
    return save(workspace, path, before, after, text, edited, args.branch, subject)


def requested_edit(args: argparse.Namespace, flag: FeatureFlag, path: str) -> EnvironmentEdit:
    """The edit the options ask for, checked against the flag's variants."""
    variants = list(flag.spec.variants)
    if args.variant is not None:
        _check_variant(args.variant, variants, path, "--variant")
    rollout = parse_rollout(args.rollout, variants, path) if args.rollout is not None else None
    targeting = None
    if args.targeting is not None:
        targeting = read_targeting(args.targeting)
        _check_targeting(targeting, variants, args.targeting, path)
    edit = EnvironmentEdit(
        enabled=args.enabled,
        variant=args.variant,
        rollout=rollout,
        targeting=targeting,
        remove_targeting=args.no_targeting,
    )
    if not edit.touched():
        raise UsageError(
            "nothing to set: give --on, --off, --variant, --rollout, --targeting or --no-targeting"
        )
    return edit


def _check_variant(name: str, variants: Sequence[str], path: str, option: str) -> None:
    if name not in variants:
        raise UsageError(
            f"{option}: variant {name!r} is not declared in {path} "
            f"(variants: {', '.join(variants)})",
            did_you_mean(name, variants),
        )


def parse_rollout(text: str, variants: Sequence[str], path: str) -> dict[str, float]:
    """``on=25,off=75`` as percentages by variant: declared variants, each once, finite
    numbers from 0 to 100 that sum to 100 (within the loader's tolerance)."""
    example = "expected VARIANT=PERCENT,... (e.g. on=25,off=75)"
    rollout: dict[str, float] = {}
    for part in text.split(","):
        name, sep, number = (s.strip() for s in part.partition("="))
        if not sep or not name or not number:
            raise UsageError(f"--rollout {text!r}: {example}")
        _check_variant(name, variants, path, "--rollout")
        if name in rollout:
            raise UsageError(f"--rollout {text!r}: variant {name!r} is named twice")
        try:
            percent = float(number)
        except ValueError:
            raise UsageError(f"--rollout {text!r}: {number!r} is not a number") from None
        if not math.isfinite(percent) or not 0 <= percent <= 100:
            raise UsageError(f"--rollout {text!r}: {number!r} is not a percentage (0 to 100)")
        rollout[name] = percent
    total = sum(rollout.values())
    if abs(total - 100) > ROLLOUT_TOLERANCE:
        raise UsageError(f"--rollout {text!r}: the percentages sum to {total:g}, not 100")
    return rollout


def read_targeting(source: str) -> dict[str, Any]:
    """flagd/JSONLogic rules from a JSON or YAML file (``-``: standard input), read with
    flaggate's safe loader and its limits; a problem names the file and line."""
    name = "<stdin>" if source == STDIN else source
    if source == STDIN:
        content = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(content) > MAX_FILE_BYTES:
            raise UsageError(f"{name}:1: more than {MAX_FILE_BYTES} bytes")
    else:
        try:
            found = read_limited(Path(source))
        except OSError as exc:
            raise UsageError(f"--targeting {source}: {exc.strerror or exc}") from None
        if isinstance(found, int):
            raise UsageError(f"{name}:1: {too_large(found)}")
        content = found
    try:
        documents = load_documents(content)
    except YamlError as exc:
        raise UsageError(f"{name}:{exc.line or 1}: {exc.message}") from None
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        kind = "nothing" if not documents else type(documents[0].data).__name__
        if len(documents) > 1:
            kind = f"{len(documents)} documents"
        raise UsageError(
            f"{name}:1: targeting must be one JSON object (JSONLogic rules), got {kind}"
        )
    rules: dict[str, Any] = documents[0].data
    return rules


def _check_targeting(
    rules: Mapping[str, Any], variants: Sequence[str], source: str, path: str
) -> None:
    """Every variant name the rules can return must be one the flag declares."""
    name = "<stdin>" if source == STDIN else source
    for result in sorted(targeting_results(dict(rules)) or ()):
        if result not in variants:
            raise UsageError(
                f"{name}: targeting returns {result!r}, which is not a variant of {path} "
                f"(variants: {', '.join(variants)})",
                did_you_mean(result, variants),
            )


def _summary(before: FeatureFlag | None, after: FeatureFlag, environment: str) -> str:
    """``off → on (true)`` for a commit subject."""
    key = after.key
    old = {key: FlagFile("", before)} if before is not None else {}
    changes = [
        c for c in diff_flags(old, {key: FlagFile("", after)}) if c.environment == environment
    ]
    if not changes:
        return "no change in what it serves"
    change = changes[0]
    return f"{describe_state(change.previous)} → {describe_state(change.new)}"


# --- the repository -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """A working tree: its root, policies (as they are in the working tree) and flags folder."""

    root: Path
    policies_dir: str
    policies: PolicySet

    @classmethod
    def open(cls, root: Path, policies_dir: str) -> Workspace:
        """Read and load the policies of the working tree at ``root``; :class:`ConfigError`
        when they do not load."""
        policies_dir = policies_dir.strip("/")
        files, problems = read_folder(root, policies_dir)
        if not files and not problems:
            raise UsageError(
                f"no policy files in {root / policies_dir}: is this a flaggate repository? "
                "(`flaggate init` starts one)"
            )
        try:
            policies = load_policies(files, complete=not problems)
        except ConfigError as exc:
            raise ConfigError(sorted(set(problems + exc.problems))) from None
        if problems:
            raise ConfigError(problems)
        return cls(root, policies_dir, policies)

    @property
    def flags_dir(self) -> str:
        """The flags folder (Settings ``flagsPath``), relative to the root."""
        return self.policies.settings.spec.flagsPath.strip("/")

    @property
    def environments(self) -> list[str]:
        """The declared environments, lowest risk first."""
        return [env.name for env in self.policies.environments]

    def environment(self, name: str) -> str:
        """``name`` when declared; a usage error with the closest declared name otherwise."""
        if name not in self.environments:
            raise UsageError(
                f"environment {name!r} is not declared in {self.policies_dir}/ "
                f"({', '.join(self.environments)})",
                did_you_mean(name, self.environments),
            )
        return name

    def flag_files(self) -> dict[str, list[str]]:
        """Flag files by stem (the flag key they must define), relative to the root."""
        found: dict[str, list[str]] = {}
        for rel in yaml_files(self.root, self.flags_dir):
            found.setdefault(PurePosixPath(rel).stem, []).append(rel)
        return found

    def find(self, key: str) -> str:
        """The one file defining flag ``key``; a usage error naming the closest key, or the
        files when several define it."""
        files = self.flag_files()
        paths = files.get(key, [])
        if not paths:
            raise UsageError(f"no flag {key!r} in {self.flags_dir}/", did_you_mean(key, files))
        if len(paths) > 1:
            raise UsageError(f"flag {key!r} is defined by several files: {', '.join(paths)}")
        return paths[0]

    def read_flag(self, path: str) -> tuple[str, FeatureFlag]:
        """The text of a flag file and the flag; :class:`ConfigError` when it does not load
        (fix it first: nothing is edited on a broken file)."""
        try:
            content = read_limited(self.root / path)
        except OSError as exc:
            raise ConfigError(
                [Problem(path, None, f"cannot read: {exc.strerror or exc}")]
            ) from None
        if isinstance(content, int):
            raise ConfigError([Problem(path, 1, too_large(content))])
        flag, problems = load_flag(path, content, self.policies.environment_names)
        if flag is None:
            error = ConfigError(problems)
            error.message = f"{path} does not load: fix it first (nothing was changed)"
            raise error
        return content.decode("utf-8"), flag

    def check(self, path: str, text: str) -> FeatureFlag:
        """The flag ``text`` defines, validated as `flaggate validate` would; a refusal
        (:class:`ConfigError`, lines of the edited text) when it is not valid."""
        flag, problems = load_flag(path, text.encode("utf-8"), self.policies.environment_names)
        if flag is None:
            error = ConfigError(problems)
            error.message = f"refused: the result would not be valid; {path} is unchanged"
            raise error
        return flag


# --- writing, printing, committing ------------------------------------------------------------


def save(
    workspace: Workspace,
    path: str,
    before: FeatureFlag | None,
    after: FeatureFlag,
    old_text: str | None,
    new_text: str,
    branch: str | None,
    subject: str,
) -> int:
    """Write the new text (on a new branch, committed, with ``branch``) and print the
    semantic change; nothing is written when the text would not change."""
    if new_text == old_text:
        print(f"{path}: already so; nothing to change")
        return 0
    commit = BranchCommit.prepare(workspace.root, branch, path) if branch else None
    if commit is not None:
        commit.start()
    sha = ""
    try:
        target = workspace.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, new_text)
        if commit is not None:
            sha = commit.finish(subject)
    except BaseException:
        if commit is not None:
            commit.undo(old_text)
        raise
    print(f"{path}: written")
    print_changes(workspace, path, before, after)
    if commit is not None:
        print(
            f"committed {sha[:12]} on the new branch {commit.branch} (only {path}); "
            f"push it and open a pull request: git push -u origin {shlex.quote(commit.branch)}"
        )
    return 0


def print_changes(
    workspace: Workspace, path: str, before: FeatureFlag | None, after: FeatureFlag
) -> None:
    """The change as `flaggate plan` lists it (flag, environment, change, before, after,
    rule), and what a pull request with it would need under the working tree's policies."""
    key = after.key
    old = {key: FlagFile(path, before)} if before is not None else {}
    changes = diff_flags(old, {key: FlagFile(path, after)}, workspace.environments)
    if not changes:
        print("  (no change in what the flag serves)")
        return
    rows = [["FLAG", "ENV", "CHANGE", "BEFORE", "AFTER", "RULE"]]
    needed: list[StageRequirement] = []
    for change in changes:
        need = approval_needed(change, workspace.policies)
        needed += need.stages
        rule = need.rule + ("" if need.stages else " (no approval)")
        rows.append([*_cells(change), rule])
    for line in aligned(rows, "  "):
        print(line)
    stages = rule_engine.union(needed)
    where = f"policies in {workspace.policies_dir}/ of the working tree"
    print(f"a pull request with this change needs ({where}): {describe_stages(stages)}")


def _cells(change: Change) -> list[str]:
    return [
        change.flag,
        change.environment,
        ",".join(change.types),
        describe_state(change.previous),
        describe_state(change.new),
    ]


@dataclass(frozen=True)
class BranchCommit:
    """Committing one file, alone, on a new branch: the checks come first, so that a refused
    commit leaves the repository as it was."""

    git: Git
    branch: str
    path: str
    previous: list[str] | None = None
    """How to switch back to what was checked out before (a branch, or a detached commit);
    None when nothing was (a repository without commits)."""

    @classmethod
    def prepare(cls, root: Path, branch: str, path: str) -> BranchCommit:
        """Refuse (usage error) unless ``branch`` is a valid, new branch name, nothing is
        staged, and ``path`` has no uncommitted changes of its own."""
        try:
            git = Git.discover(root)
        except GitError:
            raise UsageError(f"--branch: {root} is not in a git repository") from None
        code, _, _ = git.run_status(["check-ref-format", "--branch", branch])
        if code != 0 or branch.startswith("-"):
            raise UsageError(f"--branch {branch!r}: not a valid branch name")
        code, _, _ = git.run_status(["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"])
        if code == 0:
            raise UsageError(f"--branch {branch!r}: the branch already exists")
        staged = _paths(git.run(["diff", "--cached", "--name-only", "-z"]))
        if staged:
            raise UsageError(
                f"--branch: other changes are staged ({', '.join(staged[:5])}"
                f"{', ...' if len(staged) > 5 else ''}): commit or unstage them first"
            )
        dirty = _paths(git.run(["status", "--porcelain", "-z", "--", path]))
        if dirty:
            raise UsageError(
                f"--branch: {path} has uncommitted changes: commit or discard them first "
                "(only the change made now is committed)"
            )
        return cls(git, branch, path, _checked_out(git))

    def start(self) -> None:
        """Create the branch and switch to it (the working tree is kept as it is)."""
        self.git.run(["switch", "--quiet", "--create", self.branch])

    def finish(self, subject: str) -> str:
        """Commit the file alone; its commit id."""
        command = shlex.join(["flaggate", *sys.argv[1:]])
        self.git.run(["add", "--", self.path])
        self.git.run(
            ["commit", "--quiet", "-m", subject, "-m", f"Made with `{command}`.", "--", self.path]
        )
        return self.git.run(["rev-parse", "HEAD"]).decode().strip()

    def undo(self, old_text: str | None) -> None:
        """After a failure: the file as it was, the previous branch checked out again, the new
        branch deleted (best effort: every step is tried)."""
        target = self.git.root / self.path
        steps: list[Iterable[str]] = [["reset", "--quiet", "--", self.path]]
        if old_text is None:
            target.unlink(missing_ok=True)
        else:
            write_atomically(target, old_text)
        if self.previous is not None:
            steps += [["switch", "--quiet", *self.previous], ["branch", "-D", self.branch]]
        for step in steps:
            self.git.run_status(list(step))


def _checked_out(git: Git) -> list[str] | None:
    """`git switch` arguments back to the branch (or detached commit) checked out now."""
    code, out, _ = git.run_status(["symbolic-ref", "--quiet", "--short", "HEAD"])
    branch = out.decode().strip()
    if code == 0:
        exists = git.run_status(["rev-parse", "--verify", "--quiet", "HEAD"])[0] == 0
        return [branch] if exists else None
    code, out, _ = git.run_status(["rev-parse", "--verify", "--quiet", "HEAD"])
    return ["--detach", out.decode().strip()] if code == 0 else None


def _paths(out: bytes) -> list[str]:
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]
