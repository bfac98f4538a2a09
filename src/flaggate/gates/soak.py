"""The promotion (soak) gate, read from git history.

A change that makes environment E serve something must find the same served state already in
E's ``promotion.from`` environment on the base branch, continuously for ``minSoakHours``,
measured from the commit at which ``from`` reached it. The flag file's history is walked
newest first along the base branch's first parents and the walk stops as soon as the answer
is known, so the cost follows how recently the state changed, not the length of history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from flaggate.clock import duration, hours, utc
from flaggate.diff import Change, FlagFile, State, normalized_state, same, served
from flaggate.errors import GitError
from flaggate.git import Git
from flaggate.model.load import is_yaml, load_flag
from flaggate.model.policy import Promotion
from flaggate.policy.result import GateResult, GateStatus
from flaggate.yamlio import MAX_FILE_BYTES


def soak_gate(
    git: Git,
    base_sha: str,
    change: Change,
    promotion: Promotion,
    base_flags: Mapping[str, FlagFile],
    head_flags: Mapping[str, FlagFile],
    now: datetime,
    flags_dir: str = "flags",
) -> GateResult:
    """Judge one change against its environment's promotion rule."""
    env, lower, need = change.environment, promotion.from_, promotion.minSoakHours
    name = f"{env}: promotion from {lower} ({change.flag})"

    def result(status: GateStatus, message: str) -> GateResult:
        return GateResult(name, status, message, kind="promotion", environment=env)

    target = change.new
    if target is None or not target["enabled"]:
        what = "removes the flag from" if target is None else "turns the flag off in"
        return result(GateStatus.PASSED, f"{what} {env}: nothing to soak")
    head, base = head_flags.get(change.flag), base_flags.get(change.flag)
    # Whether a lower environment exists is read from the base when the flag exists there:
    # a pull request cannot skip the soak by deleting the flag's lower environment.
    declared = base or head
    if declared is None or lower not in declared.flag.spec.environments:
        if promotion.allowWithoutLower and (
            head is None or lower not in head.flag.spec.environments
        ):
            return result(GateStatus.PASSED, f"the flag has no {lower} environment (allowed)")
        if base is None or lower not in base.flag.spec.environments:
            return result(
                GateStatus.FAILED,
                f"the flag has no {lower} environment on the base branch: {env} changes must "
                f"be promoted from {lower} (or set promotion.allowWithoutLower)",
            )
    wanted = _describe(target, promotion.compare)
    if base is None:
        return result(
            GateStatus.FAILED,
            f"{lower} does not serve {wanted} yet (the flag is new): merge it to {lower} "
            f"first and let it soak {hours(need)}",
        )
    try:
        walk = _walk(
            git, base_sha, base.path, change.flag, flags_dir, lower, target, promotion, now
        )
    except GitError as exc:
        return result(GateStatus.ERROR, f"cannot read the history of {base.path}: {exc}")
    if walk.cut_off is not None:
        return result(
            GateStatus.ERROR,
            f"the history of {walk.path} is cut off at {walk.cut_off[:7]} (a shallow clone): "
            "fetch-depth: 0 required to measure the soak time",
        )
    if walk.since is None:
        current = _describe(walk.current, promotion.compare)
        if walk.current is not None and current == wanted:
            current += f" with other {_differences(walk.current, target)}"
        return result(
            GateStatus.FAILED,
            f"{lower} serves {current} on the base branch, not the {wanted} this change sets "
            f"in {env}: promote it to {lower} first",
        )
    commit, start = walk.since
    soaked = now - start
    where = f"(since {commit[:7]}, {utc(start)})"
    if soaked >= timedelta(hours=need):
        return result(
            GateStatus.PASSED,
            f"{lower} has served {wanted} for {duration(soaked)} "
            f"(≥ {hours(need)} required) {where}",
        )
    ready = start + timedelta(hours=need)
    return result(
        GateStatus.PENDING,
        f"{lower} has served {wanted} for {duration(soaked)} of the {hours(need)} required "
        f"{where}; ready at {utc(ready)}",
    )


@dataclass(frozen=True)
class _Walk:
    """What the history walk found."""

    path: str
    since: tuple[str, datetime] | None
    """The commit (and its time) from which the lower environment has served the state."""
    current: State | None
    """What the lower environment serves on the base branch."""
    cut_off: str | None = None
    """The shallow boundary where history ran out before the answer."""


def _walk(
    git: Git,
    base_sha: str,
    path: str,
    key: str,
    flags_dir: str,
    lower: str,
    target: State,
    promotion: Promotion,
    now: datetime,
) -> _Walk:
    need = timedelta(hours=promotion.minSoakHours)
    since: tuple[str, datetime] | None = None
    current: State | None = None
    with git.file_reader(MAX_FILE_BYTES) as reader:
        if reader.read(base_sha, path) is None:
            # Moved on the base branch since the pull request branched off.
            moved = _path_of(git, base_sha, key, flags_dir)
            if moved is None:
                return _Walk(path, None, None)
            path = moved
        history = git.history(base_sha, path)
        try:
            for commit, seconds, there in history:
                state = _state_at(there, reader.read(commit, there), lower)
                if since is None:
                    current = state
                if state is None or not _matches(state, target, promotion.compare):
                    return _Walk(path, since, current)
                since = (commit, datetime.fromtimestamp(seconds, UTC))
                if now - since[1] >= need:
                    return _Walk(path, since, current)
        finally:
            history.close()
    if since is not None and since[0] in git.shallow_boundary():
        return _Walk(path, since, current, cut_off=since[0])
    return _Walk(path, since, current)


def _path_of(git: Git, commit: str, key: str, flags_dir: str) -> str | None:
    """The file defining flag ``key`` at ``commit`` (file stems are unique below flags/)."""
    for _blob, path in git.tree(commit, [flags_dir]):
        if PurePosixPath(path).stem == key and is_yaml(path):
            return path
    return None


def _differences(state: State, target: State) -> str:
    fields = [name for name in ("targeting", "variants") if not same(state[name], target[name])]
    return " and ".join("variant values" if f == "variants" else f for f in fields) or "state"


def _state_at(path: str, content: bytes | int | None, environment: str) -> State | None:
    if content is None or isinstance(content, int):
        return None
    flag, _problems = load_flag(path, content, None)
    return normalized_state(flag, environment) if flag is not None else None


def _matches(state: State, target: State, compare: str) -> bool:
    if compare == "enabled":
        return bool(state["enabled"]) == bool(target["enabled"])
    return same(state, target)


def _describe(state: State | None, compare: str) -> str:
    """``on=100%``, ``on=25%/off=75% with targeting`` or ``enabled``."""
    if state is None:
        return "nothing"
    if compare == "enabled":
        return "enabled" if state["enabled"] else "disabled"
    shares = served(state)
    text = "/".join(f"{variant}={_percent(p)}" for variant, p in shares.items()) or (
        "on" if state["enabled"] else "off"
    )
    return text + (" with targeting" if state.get("targeting") else "")


def _percent(value: Any) -> str:
    return f"{float(value):g}%"
