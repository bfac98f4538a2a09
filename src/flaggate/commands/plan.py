"""`flaggate plan`: the full evaluation offline, before a pull request exists."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flaggate import clock, render
from flaggate.errors import ConfigError, UsageError
from flaggate.gates.runner import HeadChecks
from flaggate.gates.ticket import PullText, TicketLookup, find_ticket
from flaggate.git import Git
from flaggate.pipeline import compare, judge
from flaggate.policy.result import Decision, Evaluation
from flaggate.pull.offline import OfflinePullRequest, SimulatedReview, simulated_check
from flaggate.source import POLICIES_DIR, Comparison


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate plan`."""
    parser.add_argument("--base", default="HEAD", help="base ref; policies come from here")
    parser.add_argument("--head", default=None, help="head ref (default: the working tree)")
    parser.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="LOGIN:ROLE",
        help="simulate an approval by LOGIN holding ROLE (repeatable; ROLE may be R1,R2)",
    )
    parser.add_argument(
        "--request-changes",
        action="append",
        default=[],
        metavar="LOGIN:ROLE",
        help="simulate a review requesting changes",
    )
    parser.add_argument("--author", default=None, help="pull request author (pr.author)")
    parser.add_argument("--label", action="append", default=[], help="pull request label")
    parser.add_argument(
        "--body", type=Path, default=None, metavar="FILE", help="pull request description"
    )
    parser.add_argument(
        "--title", default="", help="pull request title (where a ticket key is looked for first)"
    )
    parser.add_argument("--branch", default="", help="pull request branch (may name the ticket)")
    parser.add_argument(
        "--labeled-by",
        default=None,
        metavar="LOGIN:ROLE",
        help="who added the emergency label, and the role they hold (simulates a bypass)",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME[=STATE]",
        help="simulate a required check on the head (STATE success, failure or pending; "
        "default success)",
    )
    parser.add_argument(
        "--at",
        default=None,
        metavar="TIME",
        help="judge freeze windows and soak times at TIME (ISO 8601 with offset, e.g. "
        "2026-12-21T10:00+01:00; default now)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also run gates that need the network (metric queries, Jira ticket lookups)",
    )
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("-C", "--repo", type=Path, default=Path.cwd(), help="repository path")
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def run(args: argparse.Namespace) -> int:
    """Evaluate the change between base and head, print it, return the decision's exit code."""
    pr = OfflinePullRequest(
        approvals=[SimulatedReview.parse(a, "--approve") for a in args.approve],
        change_requests=[
            SimulatedReview.parse(a, "--request-changes") for a in args.request_changes
        ],
        author_login=args.author,
        label_names=frozenset(args.label),
        base_branch=args.base,
        description=_read_body(args.body),
    )
    git = Git.discover(args.repo)
    try:
        comparison = compare(git, args.base, args.head, args.policies)
    except ConfigError as exc:
        return _invalid(args, [str(p) for p in exc.problems])
    if comparison.problems:
        return _invalid(args, [str(p) for p in comparison.problems])
    if args.labeled_by:
        label = comparison.policies.settings.spec.emergency.label
        pr.label_actors[label] = SimulatedReview.parse(args.labeled_by, "--labeled-by")
    now = clock.parse(args.at, "--at") if args.at else clock.now()
    checks = None
    if args.check:
        reports = [simulated_check(c) for c in args.check]
        checks = HeadChecks(comparison.head_sha or "working tree", now, lambda: reports)
    ticket = _ticket(comparison, PullText(args.title, args.branch, pr.description), args.online)
    evaluation = judge(
        git, comparison, pr, now=now, checks=checks, online=args.online, ticket=ticket
    )
    _print(args, evaluation, comparison)
    return evaluation.decision.exit_code


def _ticket(comparison: Comparison, text: PullText, online: bool) -> TicketLookup | None:
    """The ticket the title, branch or body names; looked up in Jira only with --online
    (GitHub issues are looked up by `flaggate github`)."""
    tickets = comparison.policies.settings.spec.tickets
    if tickets is None:
        return None
    ref = find_ticket(text, tickets)
    if ref is None or not online or tickets.provider != "jira":
        return TicketLookup(ref)
    from flaggate.integrations.jira import JiraTickets
    from flaggate.integrations.tickets import TicketError

    try:
        return TicketLookup(ref, JiraTickets.from_settings(tickets))
    except TicketError as exc:
        return TicketLookup(ref, error=exc)


def _read_body(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--body {path}: {exc}") from None


def _header(comparison: Comparison) -> str:
    base = comparison.base_sha[:12]
    if comparison.head_sha is None:
        return f"flaggate plan: {base} → working tree (policies from {base})"
    head = comparison.head_sha[:12]
    return f"flaggate plan: {base} → {base} + merge of {head} (policies from {base})"


def _print(args: argparse.Namespace, evaluation: Evaluation, comparison: Comparison) -> None:
    if args.format == "json":
        context = {
            "base": comparison.base_sha,
            "mergedTree": comparison.merged_tree,
            "head": comparison.head_sha,
            "notes": comparison.notes,
        }
        print(render.dumps(render.to_json(evaluation, context)))
    elif args.format == "markdown":
        print(render.to_markdown(evaluation, _header(comparison)))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(render.to_text(evaluation, _header(comparison), comparison.notes, color))


def _invalid(args: argparse.Namespace, errors: list[str]) -> int:
    for error in errors:
        print(error, file=sys.stderr)
    evaluation = Evaluation.invalid(errors)
    if args.format == "json":
        print(render.dumps(render.to_json(evaluation)))
    else:
        print(f"Decision: INVALID — {evaluation.summary}", file=sys.stderr)
    return Decision.INVALID.exit_code
