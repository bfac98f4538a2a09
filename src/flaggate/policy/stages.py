"""Assigning approvers to stages: each person counts once, as many stages as possible."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def assign(required: Sequence[int], eligible: Mapping[str, Sequence[int]]) -> list[list[str]]:
    """Distinct approvers per stage, satisfying as many stages as possible, earlier first.

    ``required[i]`` is how many approvers stage ``i`` needs; ``eligible[login]`` lists the
    stages a person may approve. Stages are taken in order: a stage is satisfied when all its
    slots can be filled together with those of the stages already satisfied (augmenting paths
    of a bipartite matching may move people between stages, never emptying a filled slot);
    otherwise its partial filling is undone so it cannot use up people a later stage needs.
    Finally the unsatisfied stages get whoever is left, to show partial progress. People
    are tried in the order of ``eligible`` (the caller passes the earliest approvals first, so
    a stage is credited to the approvals that first satisfied it).
    """
    matching = _Matching(required, eligible)
    unsatisfied = []
    for stage in range(len(required)):
        saved = matching.snapshot()
        if not all(matching.augment(slot) for slot in matching.slots_of(stage)):
            matching.restore(saved)
            unsatisfied.append(stage)
    for stage in unsatisfied:
        for slot in matching.slots_of(stage):
            matching.augment(slot)
    result: list[list[str]] = [[] for _ in required]
    for slot, login in sorted(matching.person_of_slot.items()):
        result[matching.stage_of_slot[slot]].append(login)
    return result


class _Matching:
    """People matched to stage slots (one slot per required approver)."""

    def __init__(self, required: Sequence[int], eligible: Mapping[str, Sequence[int]]) -> None:
        self.stage_of_slot = [stage for stage, count in enumerate(required) for _ in range(count)]
        self.person_of_slot: dict[int, str] = {}
        self.slot_of_person: dict[str, int] = {}
        self.candidates = {
            stage: [login for login in eligible if stage in eligible[login]]
            for stage in range(len(required))
        }

    def slots_of(self, stage: int) -> list[int]:
        return [slot for slot, s in enumerate(self.stage_of_slot) if s == stage]

    def snapshot(self) -> tuple[dict[int, str], dict[str, int]]:
        return dict(self.person_of_slot), dict(self.slot_of_person)

    def restore(self, saved: tuple[dict[int, str], dict[str, int]]) -> None:
        self.person_of_slot, self.slot_of_person = dict(saved[0]), dict(saved[1])

    def augment(self, slot: int, visited: set[str] | None = None) -> bool:
        """Fill ``slot``, moving already matched people along an augmenting path if needed."""
        visited = set() if visited is None else visited
        for login in self.candidates[self.stage_of_slot[slot]]:
            if login in visited:
                continue
            visited.add(login)
            current = self.slot_of_person.get(login)
            if current is None or self.augment(current, visited):
                self.person_of_slot[slot] = login
                self.slot_of_person[login] = slot
                return True
        return False
