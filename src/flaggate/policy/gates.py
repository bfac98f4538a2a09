"""Gates declared per environment (SPEC 3.2 `Environments`).

Gates this version cannot check here are still reported, as ``pending``, so that a declared
gate never silently passes: the decision stays pending until something checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from flaggate.diff import Change
from flaggate.model.load import PolicySet
from flaggate.policy.result import GateResult, GateStatus


def unchecked_gates(changes: Sequence[Change], policies: PolicySet) -> list[GateResult]:
    """A pending result for every gate declared on an environment the changes touch."""
    touched = {c.environment for c in changes if c.resource == "flag"}
    results = []
    for env in policies.environments:
        if env.name not in touched:
            continue
        declared = []
        if env.requiredChecks:
            declared.append(f"required checks ({', '.join(env.requiredChecks)})")
        if env.promotion is not None:
            declared.append(f"promotion from {env.promotion.from_}")
        declared += [f"freeze window {w.name!r}" for w in env.freeze]
        declared += [f"metric {m.name!r}" for m in env.metrics]
        for what in declared:
            results.append(
                GateResult(
                    f"{env.name}: {what}",
                    GateStatus.PENDING,
                    "not evaluated by this version of flaggate; the change stays pending",
                )
            )
    return results
