"""The promotion (soak) gate, read from git history.

A change that makes environment E serve something must find the same served state already in
E's ``promotion.from`` environment on the base branch, continuously for ``minSoakHours``,
measured from the commit at which ``from`` reached it. The flag file's history is walked
newest first along the base branch's first parents and the walk stops as soon as the answer
is known, so the cost follows how recently the state changed, not the length of history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flaggate.diff import Change, FlagFile, State, normalized_state, same, served
from flaggate.errors import GitError
from flaggate.gates.clock import duration, hours, utc
from flaggate.git import Git
from flaggate.model.load import load_flag
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
    head = head_flags.get(change.flag)
    if head is None or lower not in head.flag.spec.environments:
        if promotion.allowWithoutLower:
            return result(GateStatus.PASSED, f"the flag has no {lower} environment (allowed)")
        return result(
            GateStatus.FAILED,
            f"the flag has no {lower} environment: {env} changes must be promoted from "
            f"{lower} (or set promotion.allowWithoutLower)",
        )
    wanted = _describe(target, promotion.compare)
    base = base_flags.get(change.flag)
    if base is None:
        return result(
            GateStatus.FAILED,
            f"{lower} does not serve {wanted} yet (the flag is new): merge it to {lower} "
            f"first and let it soak {hours(need)}",
        )
    try:
        since, current = _soaked_since(git, base_sha, base.path, lower, target, promotion, now)
    except GitError as exc:
        return result(GateStatus.ERROR, f"cannot read the history of {base.path}: {exc}")
    if since is None:
        return result(
            GateStatus.FAILED,
            f"{lower} serves {_describe(current, promotion.compare)} on the base branch, not "
            f"the {wanted} this change sets in {env}: promote it to {lower} first",
        )
    if isinstance(since, str):
        return result(GateStatus.ERROR, since)
    commit, start = since
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


def _soaked_since(
    git: Git,
    base_sha: str,
    path: str,
    lower: str,
    target: State,
    promotion: Promotion,
    now: datetime,
) -> tuple[tuple[str, datetime] | str | None, State | None]:
    """The commit (and its time) from which ``lower`` has served ``target`` without a break,
    and what ``lower`` serves on the base.

    None when it does not serve it on the base; a message when history is cut off before the
    answer is known (a shallow clone).
    """
    need = timedelta(hours=promotion.minSoakHours)
    since: tuple[str, datetime] | None = None
    current: State | None = None
    history = git.history(base_sha, path)
    with git.file_reader(MAX_FILE_BYTES) as reader:
        try:
            for commit, seconds in history:
                state = _state_at(path, reader.read(commit, path), lower)
                if since is None:
                    current = state
                if state is None or not _matches(state, target, promotion.compare):
                    return since, current
                since = (commit, datetime.fromtimestamp(seconds, UTC))
                if now - since[1] >= need:
                    return since, current
        finally:
            history.close()
    if since is not None and git.is_shallow():
        return (
            f"the history of {path} is cut off at {since[0][:7]} (a shallow clone): "
            "fetch-depth: 0 required to measure the soak time"
        ), current
    return since, current


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
