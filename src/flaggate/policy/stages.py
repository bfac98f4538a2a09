"""Assigning approvers to stages: each person counts once, stages filled in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def assign(required: Sequence[int], eligible: Mapping[str, Sequence[int]]) -> list[list[str]]:
    """Distinct approvers per stage, filling stage 0 as far as possible, then 1, and so on.

    ``required[i]`` is how many approvers stage ``i`` needs; ``eligible[login]`` lists the
    stages a person may approve. Slots are filled by augmenting paths (bipartite matching), so
    filling a later stage may move a person between stages but never empties an earlier slot:
    the result satisfies the longest possible prefix of stages, and then as many others.
    """
    slots = [stage for stage, count in enumerate(required) for _ in range(count)]
    person_of_slot: dict[int, str] = {}
    slot_of_person: dict[str, int] = {}
    by_stage = {
        stage: [login for login in sorted(eligible) if stage in eligible[login]]
        for stage in range(len(required))
    }

    def augment(slot: int, visited: set[str]) -> bool:
        for login in by_stage[slots[slot]]:
            if login in visited:
                continue
            visited.add(login)
            current = slot_of_person.get(login)
            if current is None or augment(current, visited):
                person_of_slot[slot] = login
                slot_of_person[login] = slot
                return True
        return False

    for slot in range(len(slots)):
        augment(slot, set())
    result: list[list[str]] = [[] for _ in required]
    for slot, login in sorted(person_of_slot.items()):
        result[slots[slot]].append(login)
    return result
