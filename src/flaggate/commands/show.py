"""`flaggate show FLAG`: one flag's values and states, who a change would need, its history.

The approval section asks the policies (of the base, ``HEAD`` by default) which rule a
hypothetical change in each environment would hit, exactly as a pull request's evaluation picks
rules (:mod:`flaggate.policy.rules`: the first rule whose conditions all hold), and lists the
stages it would require and who holds their roles. Conditions on the pull request itself
(``pr.author``, ``pr.labels``) are judged for a pull request without author or labels.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaggate.catalog import Catalog, load_catalog
from flaggate.commands.listing import (
    ABSENT,
    add_source_options,
    aligned,
    repository_root,
    rollout_text,
)
from flaggate.diff import (
    ALL_ENVIRONMENTS,
    Change,
    FlagFile,
    State,
    change_types,
    describe_state,
    diff_flags,
    flag_change,
    normalized_state,
)
from flaggate.errors import ConfigError, GitError, UsageError, printable
from flaggate.git import NULL_SHA, Git
from flaggate.model.flags import FeatureFlag
from flaggate.model.load import load_flag
from flaggate.model.policyset import DEFAULT_ROLE, PolicySet
from flaggate.model.suggest import did_you_mean
from flaggate.policy import rules as rule_engine
from flaggate.policy.result import StageRequirement
from flaggate.yamlio import MAX_FILE_BYTES

HISTORY_LIMIT = 10

PR_NUMBER = (
    re.compile(r"^Merge pull request #(\d+)\b"),
    re.compile(r"\(#(\d+)\)\s*$"),
)
"""Where a pull request's number is in a commit subject: GitHub's merge commit
(``Merge pull request #12 from ...``) and squash commit (``Title (#12)``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate show`."""
    parser.add_argument("flag", metavar="FLAG", help="the flag's key (its file's stem)")
    add_source_options(parser)
    parser.add_argument(
        "--base",
        default=None,
        help="the commit whose policies would judge a change (default: --ref, else HEAD)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=HISTORY_LIMIT,
        metavar="N",
        help=f"show the N latest commits of the flag's file (default {HISTORY_LIMIT}; 0: none)",
    )


def run(args: argparse.Namespace) -> int:
    """Print everything about one flag; 0."""
    if args.history < 0:
        raise UsageError(f"--history {args.history}: must be 0 or more")
    root = repository_root(args.repo)
    catalog = load_catalog(root, args.ref, args.policies)
    entry = find_entry(catalog, args.flag)
    policies, where, note = base_policies(root, args.base, args.ref, args.policies, catalog)
    lines = describe_flag(entry, catalog)
    lines += ["", *describe_approvals(entry, catalog.environments(), policies, where)]
    if note:
        lines.append(f"note: {note}")
    if args.history:
        lines += ["", *describe_history(root, catalog.revision, entry, args.history, catalog)]
    print("\n".join(lines))
    return 0


def find_entry(catalog: Catalog, key: str) -> FlagFile:
    """The flag called ``key``; a usage error with the closest key otherwise."""
    entry = catalog.flags.get(key)
    if entry is None:
        where = f" at {catalog.revision[:12]}" if catalog.revision else ""
        raise UsageError(
            f"no flag {key!r} in {catalog.flags_dir}/{where}", did_you_mean(key, catalog.flags)
        )
    return entry


def base_policies(
    root: Path, base: str | None, ref: str | None, policies_dir: str, catalog: Catalog
) -> tuple[PolicySet, str, str | None]:
    """The policies a pull request would be judged by (``base``; without it those of
    ``ref``, else of ``HEAD``), where they come from, and a note when ``HEAD``'s could not be
    read (the working tree's are used then). An explicit ``base`` that cannot be read is an
    error."""
    if base is None and catalog.revision is not None:
        return catalog.policies, f"at {ref}, {catalog.revision[:12]}", None
    try:
        base_catalog = load_catalog(root, base or "HEAD", policies_dir)
    except GitError as exc:
        if base is not None:
            raise
        return catalog.policies, "of the working tree", f"no policies at HEAD ({exc.message})"
    except ConfigError as exc:
        if base is not None:
            raise
        reason = f"{len(exc.problems)} problem(s)"
        note = f"the files at HEAD do not load ({reason}): the working tree's policies are used"
        return catalog.policies, "of the working tree", note
    revision = base_catalog.revision or ""
    return base_catalog.policies, f"at {base or 'HEAD'}, {revision[:12]}", None


# --- the flag ----------------------------------------------------------------------------------


def describe_flag(entry: FlagFile, catalog: Catalog) -> list[str]:
    """Metadata, variants and each declared environment's state and targeting."""
    flag = entry.flag
    meta = flag.metadata
    where = f"at {catalog.revision[:12]}" if catalog.revision else "working tree"
    lines = [f"{flag.key}  ({entry.path}, {where})"]
    lines += aligned(
        [
            ["owner", meta.owner or ABSENT],
            ["description", meta.description or ABSENT],
            ["tags", ", ".join(meta.tags) or ABSENT],
        ],
        "  ",
    )
    lines += ["", "Variants"]
    lines += aligned([[name, _json(value)] for name, value in flag.spec.variants.items()], "  ")
    lines += ["", "Environments"]
    rows = []
    targeting: dict[str, Any] = {}
    for env in catalog.environments():
        state = normalized_state(flag, env)
        if state is None:
            rows.append([env, ABSENT, "not in this flag"])
            continue
        enabled = "enabled" if state["enabled"] else "disabled"
        rows.append([env, enabled, _serves(state, list(flag.spec.variants))])
        if state["targeting"] is not None:
            targeting[env] = state["targeting"]
    for line, row in zip(aligned(rows, "  "), rows, strict=True):
        lines.append(line)
        if row[0] in targeting:
            lines.append(f"    targeting: {printable(_json(targeting[row[0]]))}")
    return lines


def _serves(state: State, declared: Sequence[str]) -> str:
    """``serves on (true)``, ``serves on 25% / off 75%``, ``serves off (false)``."""
    values = state["variants"]
    if not state["enabled"]:
        if "off" in values:
            return f"serves off ({_json(values['off'])})"
        return "serves nothing (no `off` variant)"
    if state["rollout"] is not None:
        return "serves " + rollout_text(state["rollout"], declared)
    variant = state["variant"]
    return f"serves {variant} ({_json(values.get(variant))})"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


# --- who a change would need -------------------------------------------------------------------


@dataclass(frozen=True)
class Needed:
    """The rule a change would hit and the stages it would require."""

    rule: str
    stages: tuple[StageRequirement, ...]

    def describe(self) -> str:
        """``staging-changes: 1 of developer, tech-lead`` or ``production-changes:
        technical-review (1 of tech-lead; after 24h also engineering-manager), then ...``."""
        if not self.stages:
            return f"{self.rule}: no approval"
        if len(self.stages) == 1 and self.stages[0].source != "stage":
            return f"{self.rule}: {_stage_need(self.stages[0])}"
        steps = ", then ".join(f"{s.name} ({_stage_need(s)})" for s in self.stages)
        return f"{self.rule}: {steps}"


def describe_stages(stages: Sequence[StageRequirement]) -> str:
    """``technical-review (1 of tech-lead), then business-review (1 of product-owner)``."""
    if not stages:
        return "no approval"
    return ", then ".join(f"{s.name} ({_stage_need(s)})" for s in stages)


def _stage_need(stage: StageRequirement) -> str:
    need = f"{stage.required} of {', '.join(stage.roles)}"
    if stage.timeout_hours is None or stage.on_timeout is None:
        return need
    hours = f"{stage.timeout_hours:g}h"
    if stage.on_timeout == "escalate":
        return f"{need}; after {hours} also {', '.join(stage.escalate_to)}"
    if stage.on_timeout == "reject":
        return f"{need}; rejected after {hours}"
    return f"{need}; approved by itself after {hours}"


def approval_needed(change: Change, policies: PolicySet) -> Needed:
    """What a pull request holding only ``change`` would need under ``policies``: the first
    rule that matches (the fail-closed default when none does) and its stages."""
    rules = policies.policy.spec.rules if policies.policy is not None else ()
    facts = rule_engine.change_facts(change, None, frozenset(), None)
    rule = rule_engine.match(rules, facts)
    index = rules.index(rule) if rule is not None else len(rules)
    stages = rule_engine.union(rule_engine.requirements(rule, index, policies))
    return Needed(rule.name if rule else rule_engine.DEFAULT_RULE, tuple(stages))


def hypothetical_changes(
    flag: FeatureFlag, path: str, environment: str
) -> list[tuple[str, Change]]:
    """Changes a pull request could make in one environment, each with a label: turning it
    on or off, and serving another variant (or, where the flag lacks the environment,
    adding it)."""
    before = normalized_state(flag, environment)
    if before is None:
        off = {name: v for name, v in flag.spec.variants.items() if name == "off"}
        added = {"enabled": False, "variant": None, "rollout": None, "targeting": None}
        return [("adding it", _change(flag, path, environment, None, {**added, "variants": off}))]
    toggled = {**before, "enabled": not before["enabled"]}
    if toggled["enabled"] and toggled["variant"] is None and toggled["rollout"] is None:
        toggled["variant"] = "on" if "on" in flag.spec.variants else None
    found = [
        (
            "turning it " + ("on" if toggled["enabled"] else "off"),
            _change(flag, path, environment, before, toggled),
        )
    ]
    current = before["variant"]
    other = next((v for v in flag.spec.variants if v != current), None)
    if other is not None:
        values = {**before["variants"], other: flag.spec.variants[other]}
        served = {**before, "variant": other, "rollout": None, "variants": values}
        found.append((f"serving {other}", _change(flag, path, environment, before, served)))
    return found


def _change(
    flag: FeatureFlag, path: str, environment: str, before: State | None, after: State
) -> Change:
    meta = flag.metadata
    added = tuple(meta.tags) if before is None else ()
    types = change_types(before, after) or ("variant",)
    return flag_change(flag.key, environment, types, before, after, path, meta, added)


def _metadata_change(flag: FeatureFlag, path: str) -> Change:
    meta = flag.metadata
    state = {"owner": meta.owner, "description": meta.description, "tags": sorted(meta.tags)}
    return Change(
        "flag",
        flag.key,
        ALL_ENVIRONMENTS,
        ("metadata",),
        state,
        {**state, "description": ""},
        0.0,
        path,
        meta.tags,
        meta.owner,
    )


def describe_approvals(
    entry: FlagFile, environments: Sequence[str], policies: PolicySet, where: str
) -> list[str]:
    """Per environment, the rule a change would hit and what it would need; then who holds
    the roles named."""
    lines = [f"Approvals (policies {where}): a change here would need"]
    rows: list[list[str]] = []
    roles: dict[str, None] = {}
    for env in environments:
        found = [
            (label, approval_needed(c, policies))
            for label, c in hypothetical_changes(entry.flag, entry.path, env)
        ]
        if len({needed for _, needed in found}) == 1:
            found = [("any change", found[0][1])]
        for i, (label, needed) in enumerate(found):
            rows.append([env if i == 0 else "", f"{label}:", needed.describe()])
            roles.update((r, None) for s in needed.stages for r in (*s.roles, *s.escalate_to))
    metadata = approval_needed(_metadata_change(entry.flag, entry.path), policies)
    rows.append(["metadata", "owner, description:", metadata.describe()])
    roles.update((r, None) for s in metadata.stages for r in s.roles)
    lines += aligned(rows, "  ")
    if roles:
        lines += ["", "Who can approve"]
        lines += aligned([[role, _holders(role, policies)] for role in roles], "  ")
    return lines


def _holders(role: str, policies: PolicySet) -> str:
    binding = policies.roles.get(role)
    if binding is None or not (binding.teams or binding.users):
        fix = "bind it in RoleBindings" if role != DEFAULT_ROLE else "bind `admin` in RoleBindings"
        return f"nobody yet ({fix})"
    holders = [f"team {team}" for team in binding.teams]
    holders += [f"@{user}" for user in binding.users]
    return ", ".join(holders)


# --- history ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    """One commit that changed a flag's file on the branch (first parent)."""

    sha: str
    author: str
    date: str
    subject: str
    old_blob: str
    new_blob: str

    @property
    def pull_request(self) -> int | None:
        """The pull request its subject names (merge or squash commit), if any."""
        for pattern in PR_NUMBER:
            match = pattern.search(self.subject)
            if match:
                return int(match.group(1))
        return None


def file_history(git: Git, revision: str, path: str, limit: int) -> list[Commit]:
    """The latest ``limit`` commits that changed ``path`` as of ``revision``, newest first,
    following the first parent (a merge counts as the moment its changes arrived) and
    renames."""
    out = git.run(
        [
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--follow",
            f"-n{limit}",
            "--raw",
            "--no-abbrev",
            "--format=%x00%H%x1f%an%x1f%ad%x1f%s",
            "--date=format:%Y-%m-%d %H:%M",
            revision,
            "--",
            path,
        ]
    )
    commits = []
    for record in out.decode("utf-8", "replace").split("\0")[1:]:
        header, _, rest = record.partition("\n")
        sha, author, date, subject = [*header.split("\x1f"), "", "", ""][:4]
        raw = next((line for line in rest.splitlines() if line.startswith(":")), "")
        fields = raw.split("\t", 1)[0].split()
        old_blob, new_blob = (fields[2], fields[3]) if len(fields) >= 4 else (NULL_SHA, NULL_SHA)
        commits.append(Commit(sha, author, date, subject, old_blob, new_blob))
    return commits


def describe_history(
    root: Path, revision: str | None, entry: FlagFile, limit: int, catalog: Catalog
) -> list[str]:
    """``History`` lines: who changed what, when, from which pull request."""
    title = f"History of {entry.path} (newest first, at most {limit})"
    try:
        git = Git.discover(root)
        commits = file_history(git, revision or "HEAD", entry.path, limit)
    except GitError:
        return [title, "  (no commits: not a git repository, or nothing committed yet)"]
    if not commits:
        return [title, "  (never committed)"]
    blobs = git.read_blobs([b for c in commits for b in (c.old_blob, c.new_blob)], MAX_FILE_BYTES)
    lines = [title]
    for commit in commits:
        number = commit.pull_request
        pr = f"  #{number}" if number is not None else ""
        who, subject = printable(commit.author), printable(commit.subject)
        lines.append(f"  {commit.date}  {commit.sha[:7]}  {who}{pr}  {subject}")
        changed = _what_changed(entry, blobs, commit, catalog.environments())
        lines += [f"      {printable(item)}" for item in changed]
    return lines


def _what_changed(
    entry: FlagFile,
    blobs: dict[str, bytes | int],
    commit: Commit,
    environments: Sequence[str],
) -> list[str]:
    """The semantic changes one commit made to the flag."""
    sides: list[FeatureFlag | None] = []
    for blob in (commit.old_blob, commit.new_blob):
        content = blobs.get(blob)
        if blob == NULL_SHA or content is None:
            sides.append(None)
            continue
        if isinstance(content, int):
            return ["(file over the size limit)"]
        flag, _ = load_flag(entry.path, content, None)
        if flag is None:
            return ["(the file did not load then)"]
        sides.append(flag)
    old, new = sides
    if old is None:
        return ["created"]
    if new is None:
        return ["deleted"]
    key = entry.flag.key
    changes = diff_flags(
        {key: FlagFile(entry.path, old)}, {key: FlagFile(entry.path, new)}, environments
    )
    if not changes:
        return ["(no change in what it serves)"]
    return [
        f"{c.environment}: {','.join(c.types)}: "
        f"{describe_state(c.previous)} → {describe_state(c.new)}"
        for c in changes
    ]
