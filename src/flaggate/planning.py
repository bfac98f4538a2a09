"""The work of `flaggate plan`: the full evaluation offline, before a pull request exists.

What only some plans use is imported when used: the ticket gate (tickets configured), the
simulated checks (``--check``), the comment renderer (``--format markdown``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flaggate import clock, render
from flaggate.errors import ConfigError, GitError, UsageError
from flaggate.git import Git
from flaggate.pipeline import compare, judge
from flaggate.policy.result import Decision, Evaluation
from flaggate.pull.offline import OfflinePullRequest, SimulatedReview, simulated_check

if TYPE_CHECKING:
    from flaggate.gates.ticket import TicketLookup
    from flaggate.source import Comparison


def run(args: argparse.Namespace) -> int:
    """Evaluate the change between base and head, print it, return the decision's exit code.

    With ``--format json`` a git error still prints a document (decision ``error``) besides
    its one line on stderr; other errors (usage) are left to the caller's one line.
    """
    try:
        return _run(args)
    except ConfigError as exc:
        return _invalid(args, [str(p) for p in exc.problems])
    except GitError as exc:
        if args.format != "json" or getattr(args, "debug", False):
            raise
        print(f"flaggate: error: {exc}", file=sys.stderr)
        print(render.dumps(render.plan_error_json(str(exc))))
        return exc.exit_code


def _run(args: argparse.Namespace) -> int:
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
    comparison = compare(git, args.base, args.head, args.policies)
    if comparison.problems:
        return _invalid(args, [str(p) for p in comparison.problems], git, comparison)
    if args.labeled_by:
        label = comparison.policies.settings.spec.emergency.label
        pr.label_actors[label] = SimulatedReview.parse(args.labeled_by, "--labeled-by")
    now = clock.parse(args.at, "--at") if args.at else clock.now()
    checks = None
    if args.check:
        from flaggate.gates.runner import HeadChecks

        reports = [simulated_check(c) for c in args.check]
        checks = HeadChecks(comparison.head_sha or "working tree", now, lambda: reports)
    ticket = _ticket(comparison, args, pr.description)
    evaluation = judge(
        git, comparison, pr, now=now, checks=checks, online=args.online, ticket=ticket
    )
    _print(args, evaluation, git, comparison)
    return evaluation.decision.exit_code


def use_color(choice: str, is_tty: bool, environ: Mapping[str, str]) -> bool:
    """Whether text output is coloured.

    ``choice`` is ``--color``: ``always`` and ``never`` decide alone. ``auto`` (the default)
    follows the environment, then the terminal:

    1. ``NO_COLOR`` set to a non-empty value: no colour (an empty ``NO_COLOR=`` counts as
       unset, as https://no-color.org says);
    2. ``FORCE_COLOR`` set to a non-empty value (any, even ``0``): colour, even when
       standard output is not a terminal (https://force-color.org);
    3. otherwise colour exactly when standard output (``is_tty``) is a terminal.

    ``NO_COLOR`` wins over ``FORCE_COLOR`` when both are set: it is the reader's own wish.
    """
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return is_tty


def _ticket(comparison: Comparison, args: argparse.Namespace, body: str) -> TicketLookup | None:
    """The ticket the title (``--title``), branch (``--branch``) or ``body`` names; looked up
    in Jira only with --online (GitHub issues are looked up by `flaggate github`)."""
    tickets = comparison.policies.settings.spec.tickets
    if tickets is None:
        return None
    from flaggate.gates.ticket import PullText, TicketLookup, find_ticket

    ref = find_ticket(PullText(args.title, args.branch, body), tickets)
    if ref is None or not args.online or tickets.provider != "jira":
        return TicketLookup(ref)
    from flaggate.integrations.jira import JiraTickets
    from flaggate.integrations.tickets import TicketError

    try:
        return TicketLookup(ref, JiraTickets.from_settings(tickets))
    except TicketError as exc:
        return TicketLookup(ref, error=exc)


def _read_body(path: Path | None) -> str:
    """The description in ``--body``: a UTF-8 file, or standard input for ``-``."""
    if path is None:
        return ""
    try:
        if str(path) == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--body {path}: {exc}") from None


def _header(args: argparse.Namespace, comparison: Comparison | None) -> str:
    if comparison is None:
        return f"flaggate plan: {args.base} → {args.head or 'working tree'}"
    base = comparison.base_sha[:12]
    if comparison.head_sha is None:
        return f"flaggate plan: {base} → working tree (policies from {base})"
    head = comparison.head_sha[:12]
    return f"flaggate plan: {base} → {base} + merge of {head} (policies from {base})"


def _footer(args: argparse.Namespace, comparison: Comparison | None) -> str:
    """The comment's footer, saying it is a local plan (GitHub's names the workflow run)."""
    local = "local preview by `flaggate plan`, not posted"
    if comparison is None:
        head = f"head {args.head}" if args.head else "working tree"
        return f"{local} · base {args.base} · {head}"
    head = f"head {comparison.head_sha[:7]}" if comparison.head_sha else "working tree"
    return f"{local} · policies from {comparison.base_sha[:7]} · {head}"


def _merge_base(git: Git, comparison: Comparison) -> str | None:
    """Where the head branched from the base (None for the working tree, or without one)."""
    if comparison.head_sha is None:
        return None
    try:
        return git.merge_base(comparison.base_sha, comparison.head_sha)
    except GitError:
        return None


def _print(
    args: argparse.Namespace,
    evaluation: Evaluation,
    git: Git | None = None,
    comparison: Comparison | None = None,
) -> None:
    """The evaluation on standard output in ``--format`` (``comparison`` None: the files did
    not load far enough to compare)."""
    notes = comparison.notes if comparison is not None else []
    if args.format == "json":
        print(render.dumps(_json(evaluation, git, comparison)))
    elif args.format == "markdown":
        for note in notes:  # stdout is exactly the comment, which has no notes
            print(f"note: {note}", file=sys.stderr)
        from flaggate.publish import comment

        roles = comparison.policies.roles if comparison is not None else {}
        footer = _footer(args, comparison)
        state = comment.CommentState()
        sys.stdout.write(comment.render(evaluation, roles, state, footer, hidden=False))
    else:
        color = use_color(args.color, sys.stdout.isatty(), os.environ)
        sys.stdout.write(render.to_text(evaluation, _header(args, comparison), notes, color))


def _json(evaluation: Evaluation, git: Git | None, comparison: Comparison | None) -> dict[str, Any]:
    if git is None or comparison is None:
        return render.plan_json(evaluation)
    return render.plan_json(
        evaluation,
        base=comparison.base_sha,
        merge_base=_merge_base(git, comparison),
        merged_tree=comparison.merged_tree,
        head=comparison.head_sha,
        notes=comparison.notes,
    )


def _invalid(
    args: argparse.Namespace,
    errors: list[str],
    git: Git | None = None,
    comparison: Comparison | None = None,
) -> int:
    """Files or policies do not load: the problems on stderr, the decision on stdout."""
    for error in errors:
        print(error, file=sys.stderr)
    _print(args, Evaluation.invalid(errors), git, comparison)
    return Decision.INVALID.exit_code
