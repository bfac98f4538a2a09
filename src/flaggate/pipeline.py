"""The one evaluation pipeline: compare what lands, run the gates, evaluate.

Every command that decides on a change (``plan``, ``github``, the merge and push handlers,
``sweep``) goes through :func:`compare` and :func:`judge`, so a rule of evidence is fixed in
one place: the base branch's tip against the merge result, read as git stores it.
"""

from __future__ import annotations

__all__ = [
    "base_at",
    "base_tip",
    "compare",
    "conflict",
    "ensure_commits",
    "fingerprint_at",
    "judge",
]

from datetime import datetime
from typing import TYPE_CHECKING

from flaggate.diff import fingerprint
from flaggate.errors import ConfigError, FlaggateError, GitError
from flaggate.gates.runner import HeadChecks, gate_context, run_gates
from flaggate.git import Git
from flaggate.model.policyset import PolicySet
from flaggate.policy.evaluate import evaluate
from flaggate.policy.result import Decision, Evaluation, GateResult, GateStatus
from flaggate.pull.context import PullRequest
from flaggate.source import Comparison, compare

if TYPE_CHECKING:  # the ticket gate's module is imported only where tickets are configured
    from flaggate.gates.ticket import TicketLookup


def judge(
    git: Git,
    comparison: Comparison,
    facts: PullRequest,
    *,
    now: datetime | None,
    checks: HeadChecks | None = None,
    online: bool = False,
    ticket: TicketLookup | None = None,
    gated: bool = True,
    record_gate_errors: bool = False,
) -> Evaluation:
    """Decide on a comparison: ``invalid`` when files do not load, ``failed`` when the head
    does not merge, else the gates (unless ``gated`` is False) and the approvals.

    ``now`` None evaluates without clocks (no stage timeouts); the gates then run at the
    current time. ``record_gate_errors`` turns a gate that cannot be read into an ``error``
    gate result instead of raising (the record of a merge that already happened).
    """
    if comparison.problems:
        return Evaluation.invalid([str(p) for p in comparison.problems])
    if comparison.conflicts:
        return conflict(comparison)
    gates: list[GateResult] = []
    if gated:
        context = gate_context(
            git, comparison, checks=checks, online=online, now=now, ticket=ticket
        )
        try:
            gates = run_gates(comparison.changes, comparison.policies, context)
        except FlaggateError as exc:
            if not record_gate_errors:
                raise
            gates = [GateResult("gates", GateStatus.ERROR, f"not readable: {exc}")]
    return evaluate(comparison.changes, comparison.policies, facts, gates, now)


def conflict(comparison: Comparison) -> Evaluation:
    """The result for a head that does not merge cleanly into the base: nothing would land
    as reviewed, so it fails until the branch is updated."""
    paths = ", ".join(comparison.conflicts[:5])
    more = len(comparison.conflicts) - 5
    listed = paths + (f" and {more} more" if more > 0 else "")
    message = f"conflicts with the base branch in {listed}: update the branch"
    gate = GateResult("merge", GateStatus.FAILED, message, kind="merge")
    return Evaluation(Decision.FAILED, message, gates=(gate,))


def fingerprint_at(
    git: Git, base_sha: str, sha: str, policies_dir: str, policies: PolicySet
) -> str | None:
    """The change-set fingerprint of merging ``sha`` into ``base_sha`` (what a review on
    ``sha`` saw landing); None when it cannot be read or does not merge."""
    try:
        ensure_commits(git, [sha])
        comparison = compare(git, base_sha, sha, policies_dir, policies)
    except (GitError, ConfigError):
        return None
    if comparison.conflicts:
        return None
    return fingerprint(comparison.changes)


def ensure_commits(git: Git, shas: list[str]) -> None:
    """Fetch commits the checkout lacks (a shallow or single-ref checkout); raise GitError."""
    missing = [sha for sha in shas if not _has_commit(git, sha)]
    if missing:
        try:
            git.run(["fetch", "--no-tags", "--quiet", "origin", *missing])
        except GitError:
            raise GitError(
                f"commit(s) {', '.join(s[:12] for s in missing)} not in the checkout",
                "use actions/checkout with fetch-depth: 0",
            ) from None


def _has_commit(git: Git, sha: str) -> bool:
    try:
        git.run(["cat-file", "-e", f"{sha}^{{commit}}"])
        return True
    except GitError:
        return False


def base_tip(git: Git, branch: str, reported: str) -> str:
    """The base branch's tip now: fetched from ``origin`` when the checkout has that remote,
    else the local ``origin/<branch>`` or ``<branch>``; ``reported`` (the pull request's
    ``base.sha``, which GitHub refreshes only on pushes to the head) when it is newer or
    nothing else is known. Raise GitError when the fetch fails."""
    remotes = git.run(["remote"]).decode().split()
    if "origin" in remotes:
        try:
            git.run(
                [
                    "fetch",
                    "--no-tags",
                    "--quiet",
                    "origin",
                    f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                ]
            )
        except GitError as exc:
            raise GitError(
                f"cannot fetch the base branch {branch!r}: {exc.message}",
                "the job needs 'Contents: read'",
            ) from None
    refs = [f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"]
    out = git.run(["for-each-ref", "--format=%(refname) %(objectname)", *refs]).decode()
    found = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    tip = next((found[ref] for ref in refs if ref in found), None)
    if tip is None or tip == reported:
        return reported
    if _has_commit(git, reported) and _is_ancestor(git, tip, reported):
        return reported  # the local ref is behind what GitHub reports
    return tip


def base_at(git: Git, base_sha: str, moment: datetime | None) -> str | None:
    """The base branch's tip at ``moment`` (a review's submission time): the newest
    first-parent commit of ``base_sha`` committed by then. The base branch's own history is
    written by merges and protected pushes, not by the pull request's author. None when the
    branch had no commit yet; ``base_sha`` itself when ``moment`` is unknown."""
    if moment is None:
        return base_sha
    out = git.run(
        ["rev-list", "-1", "--first-parent", f"--before={int(moment.timestamp())}", base_sha]
    )
    return out.decode().strip() or None


def _is_ancestor(git: Git, older: str, newer: str) -> bool:
    code, _, _ = git.run_status(["merge-base", "--is-ancestor", older, newer])
    return code == 0
