"""The GitHub Actions environment and the event that started the workflow."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaggate.errors import FlaggateError

PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
PULL_REQUEST_ACTIONS = frozenset(
    {
        "opened",
        "synchronize",
        "reopened",
        "ready_for_review",
        "labeled",
        "unlabeled",
        "closed",
        "edited",
    }
)
REVIEW_EVENTS = frozenset({"pull_request_review"})
REVIEW_ACTIONS = frozenset({"submitted", "dismissed", "edited"})
SWEEP_EVENTS = frozenset({"schedule", "workflow_dispatch"})
"""Events that run the sweep (stage timeouts, post-incident reminders)."""
ISSUE_EVENTS = frozenset({"issues"})
COMMIT_EVENTS = frozenset({"check_run", "check_suite", "status", "workflow_run"})
"""Events about a commit's checks: the pull requests whose head it is are re-evaluated."""


class EventError(FlaggateError):
    """The Actions environment or event payload is missing or unusable."""


@dataclass(frozen=True)
class ActionsEnvironment:
    """The standard GitHub Actions variables flaggate reads."""

    event_name: str
    event_path: Path
    repository: str
    api_url: str
    server_url: str
    run_id: str | None
    step_summary: Path | None
    output: Path | None
    workspace: Path

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_event: bool = True
    ) -> ActionsEnvironment:
        """Read the variables; raise :class:`EventError` naming any that is missing."""
        env = os.environ if env is None else env
        needed = ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH") if require_event else ()
        missing = [name for name in (*needed, "GITHUB_REPOSITORY") if not env.get(name)]
        if missing:
            raise EventError(
                f"not running in GitHub Actions: {', '.join(missing)} not set",
                "run `flaggate github` from the workflow, or use `flaggate plan` locally",
            )

        def optional_path(name: str) -> Path | None:
            value = env.get(name)
            return Path(value) if value else None

        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=Path(env.get("GITHUB_EVENT_PATH", "")),
            repository=env["GITHUB_REPOSITORY"],
            api_url=env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            server_url=env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
            run_id=env.get("GITHUB_RUN_ID"),
            step_summary=optional_path("GITHUB_STEP_SUMMARY"),
            output=optional_path("GITHUB_OUTPUT"),
            workspace=Path(env.get("GITHUB_WORKSPACE") or Path.cwd()),
        )

    @property
    def run_url(self) -> str | None:
        """The workflow run's page: the status's target URL."""
        if not self.run_id:
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"


@dataclass(frozen=True)
class PullRequestEvent:
    """What flaggate needs from a pull-request-related event."""

    name: str
    action: str
    number: int
    merged: bool
    payload: Mapping[str, Any]

    @property
    def closed(self) -> bool:
        """The pull request was closed (merged or not)."""
        return self.action == "closed"


@dataclass(frozen=True)
class CommitEvent:
    """A check run, check suite, workflow run or commit status finished on a commit."""

    name: str
    sha: str
    check: str | None
    """The check run's name or the status's context; None for suites and workflow runs."""


@dataclass(frozen=True)
class IssueClosedEvent:
    """An issue was closed (a post-incident follow-up issue, perhaps)."""

    payload: Mapping[str, Any]


@dataclass(frozen=True)
class SweepEvent:
    """A scheduled or manual run: sweep all open pull requests."""

    name: str


@dataclass(frozen=True)
class PushEvent:
    """Commits pushed to a branch: open pull requests that target it are judged again; on the
    default branch the push is audited when no pull request brought it."""

    before: str
    after: str
    branch: str
    default: bool


@dataclass(frozen=True)
class MergeGroupEvent:
    """A merge queue asks for checks on a merge group: ``head_sha`` is exactly what lands on
    ``base_ref`` (a branch name) after ``base_sha``."""

    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str


Event = PullRequestEvent | CommitEvent | IssueClosedEvent | SweepEvent | PushEvent | MergeGroupEvent


def read_event(environment: ActionsEnvironment) -> Event | None:
    """The event flaggate acts on, or None for one it does not act on."""
    if environment.event_name in SWEEP_EVENTS:
        return SweepEvent(environment.event_name)
    try:
        payload = json.loads(environment.event_path.read_text())
    except (OSError, ValueError) as exc:
        raise EventError(f"cannot read the event payload {environment.event_path}: {exc}") from None
    name = environment.event_name
    action = str(payload.get("action", ""))
    if name in COMMIT_EVENTS:
        return _commit_event(name, action, payload)
    if name == "push":
        return _push_event(payload)
    if name == "merge_group":
        return _merge_group_event(action, payload)
    if name in ISSUE_EVENTS:
        if action != "closed" or not isinstance(payload.get("issue"), dict):
            return None
        return IssueClosedEvent(payload)
    relevant = (name in PULL_REQUEST_EVENTS and action in PULL_REQUEST_ACTIONS) or (
        name in REVIEW_EVENTS and action in REVIEW_ACTIONS
    )
    if not relevant:
        return None
    pull = payload.get("pull_request")
    if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
        raise EventError(f"{name}.{action} payload has no pull_request.number")
    return PullRequestEvent(name, action, pull["number"], bool(pull.get("merged")), payload)


def _commit_event(name: str, action: str, payload: Mapping[str, Any]) -> CommitEvent | None:
    if name == "status":
        sha, check = payload.get("sha"), payload.get("context")
    else:
        if action != "completed":
            return None
        item = payload.get(name)
        if not isinstance(item, dict):
            raise EventError(f"{name}.{action} payload has no {name}")
        sha = item.get("head_sha")
        check = item.get("name") if name == "check_run" else None
    if not isinstance(sha, str) or len(sha) != 40:
        raise EventError(f"{name} payload has no commit sha")
    return CommitEvent(name, sha, check if isinstance(check, str) else None)


def _push_event(payload: Mapping[str, Any]) -> PushEvent | None:
    repository = payload.get("repository") or {}
    default = repository.get("default_branch") if isinstance(repository, dict) else None
    before, after, ref = payload.get("before"), payload.get("after"), payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/") or payload.get("deleted"):
        return None
    if not isinstance(before, str) or not isinstance(after, str) or set(after) == {"0"}:
        return None
    branch = ref.removeprefix("refs/heads/")
    return PushEvent(before, after, branch, branch == default)


def _merge_group_event(action: str, payload: Mapping[str, Any]) -> MergeGroupEvent | None:
    if action != "checks_requested":
        return None
    group = payload.get("merge_group")
    if not isinstance(group, dict):
        raise EventError("merge_group payload has no merge_group")
    fields = {key: group.get(key) for key in ("head_sha", "head_ref", "base_sha", "base_ref")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        missing = ", ".join(key for key, value in fields.items() if not isinstance(value, str))
        raise EventError(f"merge_group payload lacks {missing or 'a value'}")
    return MergeGroupEvent(
        str(fields["head_sha"]),
        str(fields["head_ref"]).removeprefix("refs/heads/"),
        str(fields["base_sha"]),
        str(fields["base_ref"]).removeprefix("refs/heads/"),
    )
