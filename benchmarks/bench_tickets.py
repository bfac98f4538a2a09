#!/usr/bin/env python3
"""Benchmark what tickets cost `flaggate github`: time and API calls per run.

For each tracker (none, GitHub issues, Jira) it builds a repository with the example flags,
a pull request turning production on whose title names the ticket, and runs `flaggate github`
(a subprocess, as in the action) against the test suite's fake GitHub and fake Jira over
loopback HTTP: the ``opened`` run (the gate and the "requested" update), a re-run with
nothing new (the steady state: the update is remembered), and the approval run ("approved"
update and transition). It prints a Markdown table of median wall times and the requests each
run made to GitHub and to Jira.

Run from the project root: ``python benchmarks/bench_tickets.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.fakes.jira import FakeJira  # noqa: E402
from tests.github_env import NAME, OWNER, TEAMS, run_action, webhook_payload  # noqa: E402
from tests.gitrepo import GitRepo  # noqa: E402

NUMBER = 7
CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
SETTINGS = {
    "none": "  statusContext: flaggate\n",
    "github": "  tickets:\n    provider: github\n    requiredFor: [production]\n"
    "    flagField: Feature Flag\n",
    "jira": "  tickets:\n    provider: jira\n    url: {url}\n    requiredFor: [production]\n"
    "    allowedStatuses: [In Progress, In Review]\n    flagField: Feature Flag\n"
    "    transitions: {{approved: QA Review}}\n",
}
TITLES = {"none": "Turn on checkout", "github": "Turn on checkout (#3)", "jira": "FEAT-1: checkout"}


def one(tracker: str, work: Path) -> list[tuple[str, float, int, int]]:
    """The runs of one pull request: (run, seconds, GitHub requests, Jira requests)."""
    rows = []
    with FakeGitHub() as github, FakeJira() as jira:
        for slug, members in TEAMS.items():
            github.add_team(OWNER, slug, members)
        repo = GitRepo(work / "repo")
        repo.copy_example()
        repo.write(
            "policies/settings.yaml",
            "apiVersion: flaggate/v1\nkind: Settings\nmetadata:\n  name: settings\nspec:\n"
            + SETTINGS[tracker].format(url=jira.url),
        )
        base = repo.commit("example")
        repo.branch("feature")
        path = repo.root / CHECKOUT
        path.write_text(path.read_text().replace(PROD_OFF, PROD_ON))
        head = repo.commit("turn on")
        github.add_issue(OWNER, NAME, "Checkout", number=3, body="Feature Flag: checkout-redesign")
        jira.add_issue("FEAT-1", fields={"Feature Flag": "checkout-redesign"})
        github.add_pull(
            OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, title=TITLES[tracker]
        )
        github.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
        runs = [
            ("opened", "pull_request", "opened"),
            ("re-run", "pull_request", "synchronize"),
            ("approved", "pull_request_review", "submitted"),
        ]
        for label, event, action in runs:
            if label == "approved":
                github.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", head)
                github.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", head)
            before_github, before_jira = len(github.requests), len(jira.requests)
            payload = webhook_payload(event, action, NUMBER, ("main", base), ("feature", head))
            started = time.perf_counter()
            result = run_action(repo, github, event, payload, extra_env=jira.env)
            seconds = time.perf_counter() - started
            if result.code != 0:
                raise SystemExit(f"{tracker} {label}: exit {result.code}\n{result.stderr}")
            rows.append(
                (
                    label,
                    seconds,
                    len(github.requests) - before_github,
                    len(jira.requests) - before_jira,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| tickets | run | median s | GitHub requests | Jira requests |")
    print("|---|---|---|---|---|")
    for tracker in ("none", "github", "jira"):
        samples: dict[str, list[tuple[float, int, int]]] = {}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as work:
                for label, seconds, gh, jr in one(tracker, Path(work)):
                    samples.setdefault(label, []).append((seconds, gh, jr))
        for label, values in samples.items():
            median = statistics.median(v[0] for v in values)
            print(f"| {tracker} | {label} | {median:.2f} | {values[-1][1]} | {values[-1][2]} |")


if __name__ == "__main__":
    main()
