"""Running `flaggate github` as GitHub Actions would: a real webhook payload, the fake API."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cli_runner import run_cli
from tests.fakes.github import FakeGitHub, MemberState
from tests.gitrepo import GitRepo

WEBHOOKS = Path(__file__).resolve().parent / "data" / "github" / "webhooks"
"""Real webhook payloads, ``tests/data/github/webhooks`` (sources: ``tests/data/SOURCES.md``)."""
OWNER, NAME = "acme", "flags"
REPOSITORY = f"{OWNER}/{NAME}"
# The example organisation's teams and their members ("pending": invited, not a member).
TEAMS = {
    "tech-leads": {"alice": "active", "tina": "pending"},
    "senior-engineers": {},
    "product-owners": {"bob": "active"},
    "product-managers": {},
    "security": {"sam": "active"},
    "engineering": {"erin": "active", "dev": "active", "alice": "active"},
    "engineering-managers": {"mia": "active"},
    "flag-admins": {"root": "active"},
}


@contextmanager
def organisation(
    teams: Mapping[str, Mapping[str, MemberState]] = TEAMS,
) -> Iterator[FakeGitHub]:
    """The fake GitHub over HTTP with ``teams`` in the organisation ``OWNER``; it must end
    without an internal error."""
    with FakeGitHub() as server:
        for slug, members in teams.items():
            server.add_team(OWNER, slug, dict(members))
        yield server
        assert server.errors == []


EVENT_SAMPLES = {
    ("pull_request", "opened"): "pull_request/opened.with-organization.payload.json",
    ("pull_request", "synchronize"): "pull_request/synchronize.payload.json",
    ("pull_request", "labeled"): "pull_request/labeled.with-organization.payload.json",
    ("pull_request", "unlabeled"): "pull_request/unlabeled.payload.json",
    ("pull_request", "reopened"): "pull_request/reopened.payload.json",
    ("pull_request", "ready_for_review"): "pull_request/ready_for_review.payload.json",
    ("pull_request", "closed"): "pull_request/closed.merged.create-issue-branch.json",
    ("pull_request_review", "submitted"): "pull_request_review/submitted.payload.json",
    ("pull_request_review", "dismissed"): "pull_request_review/dismissed.payload.json",
    ("pull_request_review", "edited"): "pull_request_review/edited.go-scm.json",
}


def webhook_payload(
    event: str, action: str, number: int, base: tuple[str, str], head: tuple[str, str]
) -> dict[str, Any]:
    """A real payload from octokit/webhooks (or go-scm), with repository, number, refs and
    SHAs rewritten to the test's; everything else stays as GitHub sent it."""
    payload: dict[str, Any] = json.loads((WEBHOOKS / EVENT_SAMPLES[(event, action)]).read_text())
    payload = copy.deepcopy(payload)
    pull = payload["pull_request"]
    pull["number"] = number
    pull["base"]["ref"], pull["base"]["sha"] = base
    pull["head"]["ref"], pull["head"]["sha"] = head
    payload["repository"]["full_name"] = REPOSITORY
    payload["repository"]["name"] = NAME
    payload["repository"]["owner"]["login"] = OWNER
    return payload


@dataclass
class ActionRun:
    """The outcome of one `flaggate github` process."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


def run_action(
    repo: GitRepo,
    fake: FakeGitHub,
    event: str,
    payload: dict[str, Any],
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> ActionRun:
    """Run `python -m flaggate github` in ``repo`` with the Actions environment set."""
    work = repo.root.parent / f"actions-{os.getpid()}-{len(list(repo.root.parent.iterdir()))}"
    work.mkdir()
    event_path = work / "event.json"
    event_path.write_text(json.dumps(payload))
    summary, output = work / "summary.md", work / "output.txt"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))},
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": fake.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(repo.root),
        "GITHUB_TOKEN": fake.token,
        "FLAGGATE_RETRY_BACKOFF": "0.01",
        "NO_COLOR": "1",
        **(extra_env or {}),
    }
    done = run_cli(["github", *args], cwd=repo.root, env=env)
    return ActionRun(
        done.returncode,
        done.stdout,
        done.stderr,
        parse_outputs(output.read_text()) if output.exists() else {},
        summary.read_text() if summary.exists() else "",
    )


def parse_outputs(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file (``name<<DELIM`` heredocs and ``name=value`` lines)."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value = []
            for item in lines:
                if item == delimiter:
                    break
                value.append(item)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            outputs[name] = value_text
    return outputs


def app_key_pair() -> tuple[str, str]:
    """A fresh RSA key pair for a GitHub App: (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
