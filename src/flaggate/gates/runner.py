"""Run every gate the changed environments declare.

Each kind of gate is imported when an environment declares it: a change to an environment
without gates loads none of their modules (or the ticket client's)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flaggate import clock
from flaggate.diff import ALL_ENVIRONMENTS, Change, FlagFile
from flaggate.policy.result import GateResult, GateStatus

if TYPE_CHECKING:
    from flaggate.gates.metrics import PrometheusClient  # httpx under it: only online
    from flaggate.gates.ticket import TicketLookup
    from flaggate.git import Git
    from flaggate.model.policyset import PolicySet
    from flaggate.pull.checks import CheckReport
    from flaggate.source import Comparison


@dataclass(frozen=True)
class HeadChecks:
    """The head commit's check runs and statuses, and when it was committed."""

    sha: str
    committed: datetime
    reports: Callable[[], Sequence[CheckReport]]
    """Read lazily: only when a changed environment requires checks."""


@dataclass(frozen=True)
class GateContext:
    """What gates read: git history, the clock, the head's checks, the metrics server.

    ``checks`` None means the head's checks cannot be read here (``flaggate plan``): required
    checks are then reported pending. ``online`` False skips metric queries the same way.
    """

    git: Git
    base_sha: str
    base_flags: Mapping[str, FlagFile]
    head_flags: Mapping[str, FlagFile]
    now: datetime
    checks: HeadChecks | None = None
    online: bool = False
    metrics: PrometheusClient | None = None
    grace_minutes: int = 30
    ticket: TicketLookup | None = None
    """The pull request's ticket; None is a pull request that names none."""


def gate_context(
    git: Git,
    comparison: Comparison,
    *,
    checks: HeadChecks | None = None,
    online: bool = False,
    now: datetime | None = None,
    ticket: TicketLookup | None = None,
) -> GateContext:
    """The context for a comparison: ``now`` (default the clock or ``FLAGGATE_NOW``) and the
    gate settings of the base policies."""
    gates = comparison.policies.settings.spec.gates
    metrics = None
    if online:
        from flaggate.gates.metrics import PrometheusClient

        metrics = PrometheusClient.from_settings(gates.prometheus)
    return GateContext(
        git=git,
        base_sha=comparison.base_sha,
        base_flags=comparison.base_flags,
        head_flags=comparison.head_flags,
        now=now or clock.now(),
        checks=checks,
        online=online,
        metrics=metrics,
        grace_minutes=gates.checksGraceMinutes,
        ticket=ticket,
    )


def run_gates(
    changes: Sequence[Change], policies: PolicySet, context: GateContext
) -> list[GateResult]:
    """Every gate of every environment a flag change touches, in environment order."""
    touched: dict[str, list[Change]] = {}
    for change in changes:
        if change.resource == "flag" and change.environment != ALL_ENVIRONMENTS:
            touched.setdefault(change.environment, []).append(change)
    required: dict[str, list[str]] = {}
    results: list[GateResult] = []
    for env in policies.environments:
        env_changes = touched.get(env.name)
        if not env_changes:
            continue
        for check in dict.fromkeys(env.requiredChecks):
            required.setdefault(check, []).append(env.name)
        if env.promotion is not None:
            from flaggate.gates.soak import soak_gate

            results += [
                soak_gate(
                    context.git,
                    context.base_sha,
                    change,
                    env.promotion,
                    context.base_flags,
                    context.head_flags,
                    context.now,
                    policies.settings.spec.flagsPath.strip("/"),
                )
                for change in env_changes
            ]
        if env.freeze:
            from flaggate.gates.freeze import freeze_gate

            results += [freeze_gate(env.name, window, context.now) for window in env.freeze]
        lower = env.promotion.from_ if env.promotion is not None else None
        exposing = [c for c in env_changes if c.new is not None and c.new["enabled"]]
        for metric in env.metrics:
            for change in exposing:
                if context.online:
                    from flaggate.gates.metrics import metric_gate

                    results.append(
                        metric_gate(context.metrics, metric, change.flag, env.name, lower)
                    )
                else:
                    results.append(
                        GateResult(
                            f"{env.name}: metric {metric.name} ({change.flag})",
                            GateStatus.PENDING,
                            "not queried offline (flaggate plan --online queries it)",
                            kind="metric",
                            environment=env.name,
                        )
                    )
    tickets = policies.settings.spec.tickets
    if tickets is not None:
        from flaggate.gates.ticket import TicketLookup, ticket_gate

        lookup = context.ticket or TicketLookup(None)
        gate = ticket_gate(changes, tickets, lookup, context.base_flags, context.head_flags)
        if gate is not None:
            results.insert(0, gate)
    return _checks(required, context) + results


def _checks(required: dict[str, list[str]], context: GateContext) -> list[GateResult]:
    if not required:
        return []
    if context.checks is None:
        return [
            GateResult(
                f"check {name}",
                GateStatus.PENDING,
                f"read from the pull request's head commit by `flaggate github` "
                f"(required for {', '.join(envs)}; simulate with --check {name})",
                kind="checks",
            )
            for name, envs in sorted(required.items())
        ]
    from flaggate.gates.checks import checks_gates

    head = context.checks
    return checks_gates(
        required, head.reports(), head.sha, head.committed, context.now, context.grace_minutes
    )
