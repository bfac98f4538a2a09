"""Appending audit records to git (real git: a bare remote and clones over file:// URLs)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from flaggate.audit.log import GitSource, verify
from flaggate.audit.record import (
    GENESIS,
    MAX_RECORD,
    Record,
    chain,
    dumps,
    record_hash,
    record_id,
)
from flaggate.audit.store import AppendResult, AuditAppendError, append
from flaggate.git import Git
from flaggate.model.settings import Audit
from tests.gitrepo import GIT_ENV, GitRepo

BRANCH = "flaggate-audit"
IDENTITY = ("flaggate", "flaggate@users.noreply.github.com")
NOVEMBER = "2026-11-03T10:00:00Z"


def record(index: int, timestamp: str = NOVEMBER, sha: str = "a" * 40) -> Record:
    """An un-chained record of the ``index``-th event of a merge."""
    return {
        "id": record_id("acme/flags", 7, sha, index),
        "timestamp": timestamp,
        "eventType": "flag.toggled",
        "actor": {"login": "alice", "id": None},
        "resource": {"type": "flag", "id": f"flag-{index}", "name": f"flag-{index}"},
        "action": {"type": "toggled", "previousState": False, "newState": True},
        "context": {"repository": "acme/flags", "pullRequest": 7, "mergeSha": sha},
        "outcome": "success",
    }


def git(root: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout.decode().strip()


class Remote:
    """A bare repository with ``main`` (a README and a flag), and its clones."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "remote.git"
        self.url = self.root.as_uri()
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.root))
        seed = GitRepo(tmp_path / "seed")
        seed.write("README.md", "# flags\n")
        seed.write("flags/checkout.yaml", "kind: FeatureFlag\n")
        seed.commit("initial")
        seed.git("push", "-q", self.url, "main")
        self.seed = seed
        self.clones = 0

    def clone(self, *options: str) -> Path:
        self.clones += 1
        target = self.tmp / f"clone{self.clones}"
        git(self.tmp, "clone", "-q", *options, self.url, str(target))
        return target

    def tip(self, ref: str = BRANCH) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{ref}"],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def files(self, ref: str = BRANCH) -> dict[str, bytes]:
        return tree_files(self.root, ref)

    def log(self, ref: str = BRANCH, directory: str = "audit") -> list[Record]:
        return log_records(self.root, ref, directory)

    def put(self, files: dict[str, bytes], ref: str = BRANCH) -> str:
        """Commit ``files`` as the whole tree of ``ref`` on top of it (or as an orphan)."""
        seed = self.seed
        parent = self.tip(ref)
        if parent:
            seed.git("fetch", "-q", self.url, f"+refs/heads/{ref}:refs/heads/put")
            seed.git("checkout", "-q", "put")
            seed.git("rm", "-q", "-r", "--ignore-unmatch", ".")
        else:
            seed.git("checkout", "-q", "--orphan", "put")
            seed.git("rm", "-q", "-r", "--cached", "--ignore-unmatch", ".")
        for path, data in files.items():
            (seed.root / path).parent.mkdir(parents=True, exist_ok=True)
            (seed.root / path).write_bytes(data)
        seed.git("add", "--", *files)
        seed.git("commit", "-q", "-m", "put")
        sha = seed.git("rev-parse", "HEAD")
        seed.git("push", "-q", self.url, f"{sha}:refs/heads/{ref}")
        seed.git("checkout", "-q", "-f", "main")
        seed.git("clean", "-q", "-f", "-d")
        seed.git("branch", "-q", "-D", "put")
        return sha


def tree_files(root: Path, ref: str) -> dict[str, bytes]:
    names = git(root, "ls-tree", "-r", "-z", "--name-only", ref).split("\0")
    return {
        name: subprocess.run(
            ["git", "cat-file", "blob", f"{ref}:{name}"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        for name in names
        if name
    }


def lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


def log_records(root: Path, ref: str, directory: str = "audit") -> list[Record]:
    """Every record of the log at ``ref``, in chain order (months oldest first)."""
    months: dict[tuple[int, int], bytes] = {}
    for path, data in tree_files(root, ref).items():
        if not path.startswith(f"{directory}/") or not path.endswith((".jsonl", ".jsonl.gz")):
            continue
        relative = path[len(directory) + 1 :]
        if relative.startswith("archive/"):
            year, month = relative[8:15].split("-")
            data = gzip.decompress(data)
        else:
            year, month = relative[:4], relative[5:7]
        key = (int(year), int(month))
        assert key not in months, f"{key} stored twice"
        months[key] = data
    return [json.loads(line) for key in sorted(months) for line in lines(months[key])]


def assert_chained(records: Sequence[Record], previous: str = GENESIS) -> None:
    for position, item in enumerate(records):
        assert item["prevHash"] == previous, f"record {position} does not follow"
        assert item["hash"] == record_hash(item), f"record {position} was altered"
        previous = item["hash"]


def state(root: Path) -> tuple[str, str]:
    """What appending must not change: the local branches and tags, no private ref left,
    the index and the working tree (only remote-tracking refs may move, as after a push)."""
    refs = git(root, "for-each-ref", "refs/heads", "refs/tags", "refs/flaggate")
    return refs, git(root, "status", "--porcelain", "--untracked=all")


def run(clone: Path, records: Sequence[Record], audit: Audit | None = None, **kw: Any) -> Any:
    kw.setdefault("backoff", 0.01)
    return append(Git(clone), records, audit or Audit(), message="audit: test", **kw)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


# --- a branch of its own ---------------------------------------------------------------------


def test_the_first_append_creates_an_orphan_branch(remote: Remote) -> None:
    clone = remote.clone()
    before = state(clone)
    records = [record(0), record(1)]
    result = run(clone, records)
    assert (result.appended, result.skipped, result.attempts) == (2, 0, 1)
    assert result.commit == remote.tip()
    assert list(remote.files()) == ["audit/2026/11.jsonl"]
    log = remote.log()
    assert [r["id"] for r in log] == [r["id"] for r in records]
    assert_chained(log)
    assert log == result.records
    assert remote.files()["audit/2026/11.jsonl"] == b"".join(
        dumps(r).encode() + b"\n" for r in chain(records)
    )
    # An orphan commit by flaggate; the clone is exactly as it was (no leftover private ref).
    assert git(remote.root, "rev-list", "--parents", "-n", "1", BRANCH) == result.commit
    who = git(remote.root, "show", "-s", "--format=%an <%ae>|%cn <%ce>|%s", BRANCH)
    assert who == f"{IDENTITY[0]} <{IDENTITY[1]}>|{IDENTITY[0]} <{IDENTITY[1]}>|audit: test"
    assert state(clone) == before
    assert remote.tip("main") == remote.seed.git("rev-parse", "main")


def test_a_second_append_continues_the_chain(remote: Remote) -> None:
    clone = remote.clone()
    first = run(clone, [record(0), record(1)])
    second = run(remote.clone(), [record(2)])
    assert (second.appended, second.skipped) == (1, 0)
    log = remote.log()
    assert [r["id"] for r in log] == [record(i)["id"] for i in range(3)]
    assert_chained(log)
    assert log[2]["prevHash"] == log[1]["hash"] == first.records[-1]["hash"]
    assert git(remote.root, "rev-parse", f"{BRANCH}^") == first.commit
    # The first clone, behind by one append, continues from the remote's tip too.
    third = run(clone, [record(3)])
    assert third.records[0]["prevHash"] == log[2]["hash"]
    assert_chained(remote.log())


def test_re_running_appends_nothing(remote: Remote) -> None:
    clone = remote.clone()
    records = [record(0), record(1), record(2)]
    run(clone, records)
    tip = remote.tip()
    again = run(clone, records)
    assert again == AppendResult(0, 3, None, 1)
    assert remote.tip() == tip
    # A partial re-run appends only what is missing; an id twice in one call is written once.
    more = run(clone, [record(1), record(3), record(3), record(4)])
    assert (more.appended, more.skipped) == (2, 2)
    log = remote.log()
    assert [r["id"] for r in log] == [record(i)["id"] for i in range(5)]
    assert_chained(log)


def test_nothing_to_append_runs_no_git(remote: Remote) -> None:
    repo = Git(remote.clone())
    assert append(repo, [], Audit(), message="m") == AppendResult(0, 0, None, 0)
    assert repo.processes == 0
    assert remote.tip() is None


def test_records_of_two_months_go_to_two_files(remote: Remote) -> None:
    clone = remote.clone()
    october = record(0, "2026-10-31T23:59:59Z")
    result = run(clone, [october, record(1), record(2, "2026-11-30T19:30:00-05:00")])
    assert result.appended == 3
    files = remote.files()
    assert sorted(files) == ["audit/2026/10.jsonl", "audit/2026/11.jsonl", "audit/2026/12.jsonl"]
    assert [json.loads(line)["id"] for line in lines(files["audit/2026/10.jsonl"])] == [
        october["id"]
    ]
    assert_chained(remote.log())


def test_a_late_record_goes_to_the_newest_month_to_keep_the_chain_in_order(
    remote: Remote,
) -> None:
    # October's merge is recorded after November's began: in November's file, chained last.
    clone = remote.clone()
    run(clone, [record(0)])
    late = record(1, "2026-10-31T23:59:00Z")
    result = run(clone, [late])
    assert result.appended == 1
    assert list(remote.files()) == ["audit/2026/11.jsonl"]
    log = remote.log()
    assert [r["id"] for r in log] == [record(0)["id"], late["id"]]
    assert_chained(log)
    assert run(clone, [late]).skipped == 1


# --- the chain's tip -------------------------------------------------------------------------


def chained_file(records: Sequence[Record]) -> bytes:
    return b"".join(dumps(r).encode() + b"\n" for r in records)


def test_the_tip_is_the_newest_month_even_when_archived(remote: Remote) -> None:
    old = list(chain([record(i, f"2026-0{8 + i}-01T00:00:00Z") for i in range(2)]))
    remote.put(
        {
            "audit/2026/08.jsonl": chained_file(old[:1]),
            "audit/archive/2026-09.jsonl.gz": gzip.compress(chained_file(old[1:]), mtime=0),
            "audit/README.md": b"not a month\n",
        }
    )
    result = run(remote.clone(), [record(5)])
    assert result.records[0]["prevHash"] == old[1]["hash"]
    assert sorted(remote.files()) == [
        "audit/2026/08.jsonl",
        "audit/2026/11.jsonl",
        "audit/README.md",
        "audit/archive/2026-09.jsonl.gz",
    ]
    assert_chained(remote.log())


def test_a_record_already_in_an_archive_is_skipped(remote: Remote) -> None:
    old = list(chain([record(0, "2026-09-01T00:00:00Z"), record(1)]))
    remote.put(
        {
            "audit/archive/2026-09.jsonl.gz": gzip.compress(chained_file(old[:1]), mtime=0),
            "audit/2026/11.jsonl": chained_file(old[1:]),
        }
    )
    result = run(remote.clone(), [record(0, "2026-09-01T00:00:00Z"), record(1), record(2)])
    assert (result.appended, result.skipped) == (1, 2)
    assert result.records[0]["prevHash"] == old[1]["hash"]
    assert_chained(remote.log())


def test_an_empty_newest_month_is_passed_over(remote: Remote) -> None:
    old = list(chain([record(0, "2026-10-01T00:00:00Z")]))
    remote.put({"audit/2026/10.jsonl": chained_file(old), "audit/2026/11.jsonl": b""})
    result = run(remote.clone(), [record(1)])
    assert result.records[0]["prevHash"] == old[0]["hash"]
    assert_chained(remote.log())


def test_a_corrupt_last_record_stops_the_append(remote: Remote) -> None:
    old = chained_file(list(chain([record(0)])))
    remote.put({"audit/2026/11.jsonl": old + b'{"id": "edited by hand"\n'})
    tip = remote.tip()
    with pytest.raises(AuditAppendError, match=r"audit/2026/11\.jsonl:2: .*no valid hash"):
        run(remote.clone(), [record(1)])
    assert remote.tip() == tip


def test_a_corrupt_archive_or_a_deeply_nested_last_line_stops_the_append(remote: Remote) -> None:
    remote.put({"audit/archive/2026-11.jsonl.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03junk"})
    with pytest.raises(AuditAppendError, match=r"archive/2026-11\.jsonl\.gz: corrupt archive"):
        run(remote.clone(), [record(1)])
    old = chained_file(list(chain([record(0)])))
    remote.put({"audit/2026/11.jsonl": old + b"[" * 100_000 + b"]" * 100_000 + b"\n"})
    with pytest.raises(AuditAppendError, match=r"11\.jsonl:2: the log's last record has no valid"):
        run(remote.clone(), [record(1)])


def test_a_month_stored_twice_stops_the_append(remote: Remote) -> None:
    old = chained_file(list(chain([record(0)])))
    remote.put({"audit/2026/11.jsonl": old, "audit/archive/2026-11.jsonl.gz": gzip.compress(old)})
    with pytest.raises(AuditAppendError, match="stores 2026-11 twice"):
        run(remote.clone(), [record(1)])


# --- a path on the default branch ------------------------------------------------------------


def test_path_mode_appends_below_the_path_on_the_default_branch(remote: Remote) -> None:
    clone = remote.clone()
    before_files, before_tip = remote.files("main"), remote.tip("main")
    before = state(clone)
    audit = Audit(path="compliance/")
    result = run(clone, [record(0), record(1)], audit)
    assert result.appended == 2
    files = remote.files("main")
    assert sorted(files) == ["README.md", "compliance/audit/2026/11.jsonl", "flags/checkout.yaml"]
    assert {k: v for k, v in files.items() if k in before_files} == before_files
    assert git(remote.root, "rev-parse", "main^") == before_tip
    assert remote.tip(BRANCH) is None
    result = run(remote.clone(), [record(1), record(2)], audit)
    assert (result.appended, result.skipped) == (1, 1)
    log = remote.log("main", "compliance/audit")
    assert [r["id"] for r in log] == [record(i)["id"] for i in range(3)]
    assert_chained(log)
    assert state(clone) == before  # the local main stays where it was


def test_other_branch_and_dir(remote: Remote) -> None:
    result = run(remote.clone(), [record(0)], Audit(branch="refs/heads/compliance", dir="log"))
    assert result.appended == 1
    assert list(remote.files("compliance")) == ["log/2026/11.jsonl"]


# --- races and failures ----------------------------------------------------------------------


def test_two_clones_appending_at_once_lose_nothing(remote: Remote) -> None:
    # Ten rounds; in each, two merges' workflows append at the same moment from two clones:
    # one push wins, the other is rejected, fetches the new tip and chains onto it.
    clones = [remote.clone(), remote.clone()]
    barrier = threading.Barrier(len(clones), timeout=60)
    results: list[AppendResult] = []
    errors: list[BaseException] = []

    def writer(number: int, clone: Path) -> None:
        try:
            for i in range(10):
                barrier.wait()
                results.append(run(clone, [record(i, sha=f"{number}" * 40)], backoff=0.02))
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=pair) for pair in enumerate(clones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r.appended for r in results) == 20
    assert sum(r.attempts for r in results) > 20  # the pushes did race
    log = remote.log()
    expected = {record(i, sha=f"{n}" * 40)["id"] for n in range(2) for i in range(10)}
    assert sorted(r["id"] for r in log) == sorted(expected)  # each exactly once
    assert_chained(log)
    for n in range(2):  # each writer's records in its order
        mine = [record(i, sha=f"{n}" * 40)["id"] for i in range(10)]
        assert [r["id"] for r in log if r["id"] in mine] == mine
    assert git(remote.root, "rev-list", "--count", BRANCH) == "20"


class RacingGit(Git):
    """A repository where another writer appends right after each of the first ``races``
    reads of the tip (``git fetch``, or ``git rev-parse`` without a remote)."""

    def __init__(
        self, root: Path, other: Callable[[], object], races: int = 1, on: str = "fetch"
    ) -> None:
        super().__init__(root)
        self.other = other
        self.races = races
        self.on = on

    def run(self, args: Sequence[str], stdin: bytes | None = None) -> bytes:
        out = super().run(args, stdin)
        if args[0] == self.on and self.races > 0:
            self.races -= 1
            self.other()
        return out


def test_a_lost_race_is_chained_again_onto_the_new_tip(remote: Remote) -> None:
    clone, other = remote.clone(), remote.clone()
    run(clone, [record(0)])
    rival = iter([record(10), record(11)])
    repo = RacingGit(clone, lambda: run(other, [next(rival)]), races=2)
    result = append(repo, [record(1), record(2)], Audit(), message="m", backoff=0.01)
    assert (result.appended, result.attempts) == (2, 3)
    log = remote.log()
    assert [r["id"] for r in log] == [record(i)["id"] for i in (0, 10, 11, 1, 2)]
    assert_chained(log)
    assert result.records == log[3:]


def test_a_push_that_always_fails_raises_and_loses_nothing(remote: Remote) -> None:
    clone = remote.clone()
    run(clone, [record(0)])
    tip = remote.tip()
    calls = remote.tmp / "hook-calls"
    hook = remote.root / "hooks" / "pre-receive"
    hook.write_text(
        f'#!/bin/sh\necho call >> "{calls}"\necho "audit branch is frozen" >&2\nexit 1\n'
    )
    hook.chmod(0o755)
    before = state(clone)
    with pytest.raises(AuditAppendError) as raised:
        run(clone, [record(1), record(2)], attempts=3)
    message = str(raised.value)
    assert "could not append 2 audit record(s) to origin/flaggate-audit in 3 attempt(s)" in message
    assert "pre-receive hook declined" in message
    assert "audit branch is frozen" in message
    assert calls.read_text().count("call") == 3
    assert remote.tip() == tip
    assert state(clone) == before
    # Once the remote accepts again, the same records are appended after the first one.
    hook.unlink()
    result = run(clone, [record(1), record(2)])
    assert (result.appended, result.skipped) == (2, 0)
    log = remote.log()
    assert [r["id"] for r in log] == [record(i)["id"] for i in range(3)]
    assert_chained(log)


def test_an_unreachable_remote_raises(remote: Remote, tmp_path: Path) -> None:
    clone = remote.clone()
    git(clone, "remote", "set-url", "origin", (tmp_path / "gone.git").as_uri())
    with pytest.raises(AuditAppendError, match=r"in 2 attempt\(s\); last: fetching origin"):
        run(clone, [record(0)], attempts=2)
    assert git(clone, "for-each-ref", "refs/flaggate") == ""


def test_a_missing_remote_name_is_an_error(remote: Remote) -> None:
    with pytest.raises(AuditAppendError, match="no git remote 'upstream'"):
        run(remote.clone(), [record(0)], remote="upstream")


def test_a_shallow_clone_appends_onto_a_long_log(remote: Remote) -> None:
    writer = remote.clone()
    for i in range(3):
        run(writer, [record(i)])
    shallow = remote.clone("--depth=1", "--no-local")
    result = run(shallow, [record(3)])
    assert result.appended == 1
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    assert_chained(remote.log())
    assert git(remote.root, "rev-list", "--count", BRANCH) == "4"


# --- without a remote ------------------------------------------------------------------------


def test_without_a_remote_the_local_branch_is_appended_to(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "local")
    repo.write("README.md", "x\n")
    repo.commit()
    before = repo.git("status", "--porcelain")
    first = run(repo.root, [record(0)])
    second = run(repo.root, [record(0), record(1)])
    assert (first.appended, second.appended, second.skipped) == (1, 1, 1)
    assert repo.git("rev-parse", BRANCH) == second.commit
    log = log_records(repo.root, BRANCH)
    assert [r["id"] for r in log] == [record(0)["id"], record(1)["id"]]
    assert_chained(log)
    assert repo.git("status", "--porcelain") == before
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_without_a_remote_a_moved_branch_is_retried(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "local")
    repo.commit()
    run(repo.root, [record(9)])
    rival = iter([record(10)])
    racing = RacingGit(repo.root, lambda: run(repo.root, [next(rival)]), on="rev-parse")
    result = append(racing, [record(0)], Audit(), message="m", backoff=0.01)
    assert result.attempts == 2
    log = log_records(repo.root, BRANCH)
    assert [r["id"] for r in log] == [record(i)["id"] for i in (9, 10, 0)]
    assert_chained(log)


# --- bad records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "has no id"),
        ({"timestamp": "yesterday"}, "has no ISO-8601 timestamp: 'yesterday'"),
        ({"timestamp": None}, "has no ISO-8601 timestamp: None"),
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "has no ISO-8601 timestamp: '0001-"),
        ({"outcome": {"rollout": float("nan")}}, "cannot be written as JSON: Out of range float"),
        ({"outcome": {"note": "\ud800"}}, "cannot be written as JSON: 'utf-8' codec"),
        (
            {"outcome": {"note": "x" * MAX_RECORD}},
            r"would be a line of \d+ bytes, longer than the 4 MiB `flaggate audit` reads",
        ),
    ],
)
def test_bad_records_are_refused_before_any_git(
    remote: Remote, change: dict[str, Any], message: str
) -> None:
    repo = Git(remote.clone())
    with pytest.raises(AuditAppendError, match=message):
        append(repo, [record(0), {**record(1), **change}], Audit(), message="m")
    assert repo.processes == 0


def test_a_record_of_exactly_the_longest_line_is_written_and_read(remote: Remote) -> None:
    empty = {**record(0), "outcome": {"note": ""}}
    filler = MAX_RECORD - len(dumps(next(chain([empty]))).encode())
    longest = {**empty, "outcome": {"note": "x" * filler}}
    result = run(remote.clone(), [longest])
    assert len(dumps(result.records[0]).encode()) == MAX_RECORD
    checked = verify(GitSource(Git(remote.root)))
    assert (checked.ok, checked.records) == (True, 1)
    with pytest.raises(AuditAppendError, match=f"line of {MAX_RECORD + 1} bytes"):
        run(remote.clone(), [{**record(1), "outcome": {"note": "x" * (filler + 1)}}])
