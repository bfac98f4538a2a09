"""Gates: what must be true, besides approvals, before a change to an environment can merge.

``requiredChecks`` (GitHub check runs and statuses), ``promotion`` (soak in the lower
environment, from git history), ``freeze`` windows and ``metrics`` (PromQL queries). Each gate
yields :class:`flaggate.policy.result.GateResult` values; :func:`flaggate.gates.runner.run_gates`
runs all of them for a set of changes.
"""
