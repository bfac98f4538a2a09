"""`audit verify` on every core (flaggate.audit.verify_fast): an intact log is confirmed in
worker processes with the same result as the walk; anything else falls back to the walk,
which words every problem as before."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flaggate.audit import verify_fast
from flaggate.audit.log import DirectorySource, GitSource, VerifyResult, verify
from flaggate.git import Git
from tests.gitrepo import GitRepo
from tests.test_audit_log import (
    CHAINED,
    TAMPERING,
    commit_log,
    month_files,
    rewrite,
    show,
)
from tests.test_audit_log import repo as repo


@pytest.fixture
def fast_path_used(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Every log is big enough for workers; each element: whether a run confirmed it."""
    monkeypatch.setattr(verify_fast, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    calls: list[bool] = []
    real = verify_fast.check_intact

    def spy(*args: object) -> verify_fast.Intact | None:
        found = real(*args)  # type: ignore[arg-type]
        calls.append(found is not None)
        return found

    monkeypatch.setattr(verify_fast, "check_intact", spy)
    yield calls


def walked(source_of: Callable[[], object]) -> VerifyResult:
    """The result of the one-process walk (the fast path switched off)."""
    saved = verify_fast.PARALLEL_BYTES
    verify_fast.PARALLEL_BYTES = 1 << 62
    try:
        return verify(source_of())  # type: ignore[arg-type]
    finally:
        verify_fast.PARALLEL_BYTES = saved


def test_an_intact_log_is_confirmed_by_the_workers_as_the_walk_does(
    repo: GitRepo, fast_path_used: list[bool]
) -> None:
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    fast = verify(source())
    assert fast_path_used == [True]
    assert fast == walked(source)
    assert fast.ok and fast.records == len(CHAINED) and fast.head == CHAINED[-1]["hash"]


@pytest.mark.parametrize("change", [case[1] for case in TAMPERING], ids=[c[0] for c in TAMPERING])
def test_tampering_falls_back_to_the_walk(
    repo: GitRepo, fast_path_used: list[bool], change: Callable[[list[bytes]], list[bytes]]
) -> None:
    rewrite(repo, "audit/2026/10.jsonl", change)
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    found = verify(source())
    assert fast_path_used == [False]
    assert not found.ok
    assert found == walked(source)


def test_a_deleted_month_and_a_repeated_id_across_files_fall_back(
    repo: GitRepo, fast_path_used: list[bool]
) -> None:
    # Each file is intact on its own: only the main process sees the broken link / the id.
    first = show(repo, "audit/2026/09.jsonl").split(b"\n")[0] + b"\n"
    commit_log(repo, {"audit/2026/12.jsonl": first})
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    assert not verify(source()).ok
    commit_log(repo, {"audit/2026/12.jsonl": None, "audit/2026/10.jsonl": None})
    assert not verify(source()).ok
    assert fast_path_used == [False, False]
    assert verify(source()) == walked(source)


def test_a_directory_of_month_files(tmp_path: Path, fast_path_used: list[bool]) -> None:
    for path, data in month_files(CHAINED).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    source = lambda: DirectorySource(tmp_path)  # noqa: E731
    fast = verify(source())
    assert fast_path_used == [True]
    assert fast == walked(source) and fast.ok


def test_small_logs_and_full_checks_stay_in_one_process(repo: GitRepo) -> None:
    assert verify_fast.parallel_workers([100, 200]) == 0  # under PARALLEL_BYTES
    assert verify_fast.parallel_workers([1 << 30]) == 0  # one file
    assert verify_fast.parallel_workers([1 << 30, None]) == 0  # a size unknown
    assert verify(GitSource(Git(repo.root)), full=True).ok
