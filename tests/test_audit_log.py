"""`flaggate audit`: reading, verifying, querying, exporting and archiving the audit log, on
real git repositories (the log committed with plumbing) with the CLI as a subprocess."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flaggate.audit import log
from flaggate.audit.collect import MergeContext, direct_push_records
from flaggate.audit.log import DirectorySource, Filter, GitSource, query, verify
from flaggate.audit.record import EVENT_TYPES, GENESIS, canonical, chain, dumps, record_hash
from flaggate.diff import Change
from flaggate.git import Git
from tests.gitrepo import GIT_ENV, PROJECT, CliResult, GitRepo

AUDIT = "flaggate-audit"
SCHEMA = json.loads((PROJECT / "schemas" / "audit-record.schema.json").read_text())
JUSTIFICATION = 'Checkout down, "SEV1": rolling back,\nsee the incident channel — zoë'


# --- building logs ---------------------------------------------------------------------------


def record(
    number: int,
    when: str,
    event: str = "flag.updated",
    actor: str = "alice",
    flag: str = "checkout-redesign",
    environment: str | None = "production",
    ticket: str | None = "FEAT-1",
    pull: int | None = 100,
    metadata: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """An un-chained record shaped like the ones `flaggate.audit.collect` builds."""
    approval = event.startswith("approval.")
    resource_type = "approval" if approval else "policy" if event.startswith("policy.") else "flag"
    return {
        "id": f"00000000-0000-5000-8000-{number:012d}",
        "timestamp": when,
        "eventType": event,
        "actor": {"login": actor, "id": 1000 + number, "name": None, "email": None},
        "resource": {
            "type": resource_type,
            "id": flag,
            "name": flag,
            "environment": environment,
        },
        "action": {
            "type": event.split(".")[1],
            "previousState": None if approval else {"enabled": False, "variant": "off"},
            "newState": None if approval else {"enabled": True, "variant": "on", "rollout": None},
            "metadata": metadata or {"types": ["toggled"], "path": f"flags/{flag}.yaml"},
        },
        "context": {
            "repository": "acme/feature-flags",
            "pullRequest": pull,
            "mergeSha": f"{number:040x}",
            "mergedBy": "carol",
            "ticketId": ticket,
            "incidentId": None,
            "approvalWorkflowId": "https://github.com/acme/feature-flags/actions/runs/1",
        },
        "outcome": {"success": error is None, "errorCode": None, "errorMessage": error},
    }


RECORDS = [
    record(1, "2026-09-03T09:00:00Z", "flag.created", environment="development", pull=101),
    record(2, "2026-09-03T09:00:00Z", "approval.approved", "bob", "technical-review", None),
    record(3, "2026-09-17T14:30:00Z", "flag.toggled", "zoë", ticket="FEAT-2", pull=102),
    record(4, "2026-09-30T23:59:59Z", "policy.updated", flag="policies/rules.yaml", pull=103),
    record(5, "2026-10-01T00:00:00Z", "flag.toggled", "bob", "search-v2", pull=104),
    record(
        6,
        "2026-10-05T12:00:00Z",
        "approval.bypassed",
        "dave",
        "emergency",
        None,
        pull=104,
        metadata={"role": "sre", "severity": "SEV1", "justification": JUSTIFICATION},
    ),
    record(7, "2026-10-15T08:00:00Z", "flag.updated", environment="staging", pull=105),
    record(8, "2026-10-15T23:00:00Z", "flag.deleted", "bob", "old-banner", None, pull=106),
    record(9, "2026-10-31T18:00:00Z", "approval.retroactive", "erin", "business-review", None),
    record(10, "2026-11-02T08:30:00Z", "flag.toggled", ticket="FEAT-3", pull=107),
    record(11, "2026-11-02T08:30:00Z", "approval.approved", "bob", "technical-review", None),
    record(12, "2026-11-20T10:00:00Z", "flag.updated", "zoë", "search-v2", "staging", None),
    record(
        13,
        "2026-11-28T12:00:00Z",
        "flag.updated",
        pull=None,
        error='sync failed: "timeout", retried\nthen gave up',
    ),
]
CHAINED = list(chain(RECORDS))


def month_files(records: list[dict[str, Any]], directory: str = "audit") -> dict[str, bytes]:
    """The JSON Lines files of chained records, by the month of their timestamp."""
    files: dict[str, bytes] = {}
    for item in records:
        path = f"{directory}/{item['timestamp'][:4]}/{item['timestamp'][5:7]}.jsonl"
        files[path] = files.get(path, b"") + (dumps(item) + "\n").encode()
    return files


def git_bytes(
    repo: GitRepo, *args: str, stdin: bytes | None = None, index: Path | None = None
) -> bytes:
    env = {**os.environ, **GIT_ENV}
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    done = subprocess.run(
        ["git", *args], cwd=repo.root, input=stdin, capture_output=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def commit_log(repo: GitRepo, files: dict[str, bytes | None], ref: str = AUDIT) -> str:
    """Commit ``files`` (None: delete) on top of ``ref`` (created as an orphan when missing)
    with plumbing, like the appender does: no checkout."""
    refname = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    index = repo.root.parent / f"{repo.root.name}.index"
    index.unlink(missing_ok=True)
    parent = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", refname],
        cwd=repo.root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if parent:
        git_bytes(repo, "read-tree", parent, index=index)
    for path, data in files.items():
        if data is None:
            git_bytes(repo, "update-index", "--force-remove", path, index=index)
            continue
        blob = git_bytes(repo, "hash-object", "-w", "--stdin", stdin=data).decode().strip()
        git_bytes(
            repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", index=index
        )
    tree = git_bytes(repo, "write-tree", index=index).decode().strip()
    args = ["commit-tree", tree, "-m", "audit"] + (["-p", parent] if parent else [])
    commit = git_bytes(repo, *args).decode().strip()
    git_bytes(repo, "update-ref", refname, commit)
    index.unlink(missing_ok=True)
    return commit


def show(repo: GitRepo, path: str, ref: str = AUDIT) -> bytes:
    return git_bytes(repo, "show", f"{ref}:{path}")


def rewrite(repo: GitRepo, path: str, change: Callable[[list[bytes]], list[bytes]]) -> None:
    """Commit a new version of one month file, its lines changed by ``change``."""
    lines = show(repo, path).split(b"\n")[:-1]
    commit_log(repo, {path: b"".join(line + b"\n" for line in change(lines))})


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repository whose branch `flaggate-audit` holds three months of records."""
    made = GitRepo(tmp_path / "repo")
    made.write("README.md", "flags\n")
    made.commit("init")
    commit_log(made, dict(month_files(CHAINED)))
    return made


def ids(result: CliResult) -> list[str]:
    assert result.code == 0, result.stderr
    return [item["id"] for item in result.json()]


def line_of(item: dict[str, Any]) -> bytes:
    return dumps(item).encode()


# --- verify ----------------------------------------------------------------------------------


def test_verify_reports_an_intact_chain_across_months(repo: GitRepo) -> None:
    result = repo.flaggate("audit", "verify")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(
        "ok: 13 records, chain intact (first 2026-09-03T09:00:00Z, last 2026-11-28T12:00:00Z;"
    )
    assert f"3 file(s), head {CHAINED[-1]['hash']})" in result.stdout
    assert CHAINED[0]["prevHash"] == GENESIS


def _edit_field(lines: list[bytes]) -> list[bytes]:
    lines[2] = lines[2].replace(b'"login":"alice"', b'"login":"mallory"')
    return lines


def _edit_and_rehash(lines: list[bytes]) -> list[bytes]:
    item = json.loads(lines[1])
    item["actor"]["login"] = "mallory"
    item["hash"] = record_hash(item)
    lines[1] = line_of(item)
    return lines


def _swap(lines: list[bytes]) -> list[bytes]:
    lines[1], lines[2] = lines[2], lines[1]
    return lines


def _duplicate(lines: list[bytes]) -> list[bytes]:
    return [*lines[:2], lines[1], *lines[2:]]


def _truncate_last(lines: list[bytes]) -> list[bytes]:
    lines[-1] = lines[-1][:-40]
    return lines


def _blank(lines: list[bytes]) -> list[bytes]:
    lines[1] = b""
    return lines


# October holds records 5..9 (lines 1..5).
TAMPERING = [
    ("edit a field", _edit_field, 3, 7, "hash mismatch (edited)"),
    ("edit and recompute the hash", _edit_and_rehash, 3, 7, log.DELETED),
    ("delete a line", lambda lines: lines[:1] + lines[2:], 2, 7, log.DELETED),
    ("swap two lines", _swap, 2, 7, log.DELETED),
    ("duplicate a line", _duplicate, 3, 6, "duplicate id (first at audit/2026/10.jsonl:2)"),
    ("truncate the last line", _truncate_last, 5, 9, log.GARBLED),
    ("blank a line", _blank, 2, None, "empty line (a record was removed)"),
]


@pytest.mark.parametrize(
    ("change", "line", "number", "reason"),
    [case[1:] for case in TAMPERING],
    ids=[case[0] for case in TAMPERING],
)
def test_verify_names_the_first_bad_record(
    repo: GitRepo,
    change: Callable[[list[bytes]], list[bytes]],
    line: int,
    number: int | None,
    reason: str,
) -> None:
    rewrite(repo, "audit/2026/10.jsonl", change)
    for extra in ((), ("--full",)):
        result = repo.flaggate("audit", "verify", *extra)
        assert result.code == 1, result.stdout
        first = result.stderr.splitlines()[0]
        named = f"record {RECORDS[number - 1]['id']}: " if number else ""
        assert first == f"audit/2026/10.jsonl:{line}: {named}{reason}"
        assert "is broken" in result.stderr.splitlines()[-1]
        assert result.stdout == ""


def test_verify_detects_a_deleted_first_record_and_a_deleted_month(repo: GitRepo) -> None:
    rewrite(repo, "audit/2026/09.jsonl", lambda lines: lines[1:])
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.startswith(f"audit/2026/09.jsonl:1: record {RECORDS[1]['id']}: ")
    assert log.NOT_FIRST in result.stderr
    rewrite(repo, "audit/2026/09.jsonl", lambda lines: [line_of(r) for r in CHAINED[:4]])
    assert repo.flaggate("audit", "verify").code == 0
    commit_log(repo, {"audit/2026/10.jsonl": None})
    result = repo.flaggate("audit", "verify")
    assert result.stderr.splitlines()[0] == (
        f"audit/2026/11.jsonl:1: record {RECORDS[9]['id']}: {log.DELETED}"
    )


def test_a_duplicate_appended_with_a_valid_chain_is_still_reported(repo: GitRepo) -> None:
    again = list(chain([RECORDS[0]], previous=CHAINED[-1]["hash"]))
    path = "audit/2026/11.jsonl"
    commit_log(repo, {path: show(repo, path) + line_of(again[0]) + b"\n"})
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.splitlines()[0] == (
        f"audit/2026/11.jsonl:5: record {RECORDS[0]['id']}: "
        "duplicate id (first at audit/2026/09.jsonl:1)"
    )


def test_a_differently_formatted_line_with_the_right_hash_is_valid(repo: GitRepo) -> None:
    # The hash is over canonical JSON, not over the stored bytes.
    rewrite(
        repo,
        "audit/2026/10.jsonl",
        lambda lines: [json.dumps(json.loads(x)).encode() for x in lines],
    )
    assert repo.flaggate("audit", "verify").code == 0
    assert repo.flaggate("audit", "verify", "--full").code == 0


def test_full_also_rejects_a_hash_computed_over_non_canonical_bytes(repo: GitRepo) -> None:
    last = dict(CHAINED[-1])
    body = canonical(last).replace(b'"action":{', b'"action": {', 1)
    forged = hashlib.sha256(body).hexdigest()
    at = body.index(b',"id":"')
    line = body[:at] + f',"hash":"{forged}"'.encode() + body[at:]
    path = "audit/2026/11.jsonl"
    rewrite(repo, path, lambda lines: [*lines[:-1], line])
    # The fast check trusts the bytes the hash commits to; --full recomputes canonical JSON.
    assert repo.flaggate("audit", "verify").code == 0
    result = repo.flaggate("audit", "verify", "--full")
    assert result.code == 1
    assert result.stderr.startswith(f"{path}:4: record {last['id']}: hash mismatch (edited)")


def test_nested_hash_keys_are_checked_by_parsing(tmp_path: Path) -> None:
    nested = record(20, "2026-12-01T00:00:00Z", metadata={"hash": "x", "prevHash": "0" * 64})
    items = list(chain([*RECORDS, nested]))
    for path, data in month_files(items).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    result = verify(DirectorySource(tmp_path))
    assert (result.ok, result.records, result.head) == (True, 14, items[-1]["hash"])


def test_a_nested_member_hashing_its_own_line_is_caught(repo: GitRepo) -> None:
    # Canonical JSON whose `outcome` holds `"hash":…,"id":…` where the hash is that of the
    # line without this nested member, while the record's own hash is wrong.
    forged = dict(CHAINED[-1], hash="0" * 64)
    forged["outcome"] = {**forged["outcome"], "hash": "", "id": "x"}
    line = line_of(forged)
    member = b',"hash":"","id":"x"'
    at = line.index(member)
    inner = hashlib.sha256(line[:at] + b',"id":"x"' + line[at + len(member) :]).hexdigest()
    line = line.replace(b',"hash":""', f',"hash":"{inner}"'.encode())
    path = "audit/2026/11.jsonl"
    rewrite(repo, path, lambda lines: [*lines[:-1], line])
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.startswith(f"{path}:4: record {forged['id']}: hash mismatch (edited)")


def test_verify_starts_three_git_processes(repo: GitRepo) -> None:
    git = Git(repo.root)
    result = verify(GitSource(git))
    assert result.ok and result.records == 13
    assert git.processes == 3  # for-each-ref, ls-tree, one cat-file --batch


def test_canonical_lines_are_checked_without_parsing(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_: bytes) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(log, "_inspect_parsed", refuse)
    assert verify(GitSource(Git(repo.root))).ok
    with pytest.raises(AssertionError, match="parsed"):
        verify(GitSource(Git(repo.root)), full=True)


def test_lines_split_across_chunks_and_archives_read_the_same(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        repo.flaggate("audit", "archive", "--older-than", "0", "--at", "2026-12-31T00:00Z").code
        == 0
    )
    monkeypatch.setattr(log, "CHUNK", 7)
    result = verify(GitSource(Git(repo.root)))
    assert (result.ok, result.records, result.head) == (True, 13, CHAINED[-1]["hash"])
    found = [m.record for m in query(GitSource(Git(repo.root)), Filter())]
    assert found == CHAINED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 16, 64, 1 << 20])
def test_gunzip_reads_every_member_whatever_the_chunk_size(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "CHUNK", size)
    first, second = b"x" * 64, b"".join(line_of(r) + b"\n" for r in CHAINED[:3])
    packed = gzip.compress(first) + gzip.compress(second)

    def pieces(data: bytes) -> list[bytes]:
        return [data[i : i + size] for i in range(0, len(data), size)]

    assert b"".join(log.gunzip(pieces(packed), "a.gz")) == first + second
    with pytest.raises(log.LogError, match="truncated"):
        b"".join(log.gunzip(pieces(packed[:-9]), "a.gz"))


# --- the source ------------------------------------------------------------------------------


def test_the_remote_branch_is_read_when_there_is_no_local_one(repo: GitRepo) -> None:
    tip = repo.git("rev-parse", AUDIT)
    repo.git("update-ref", f"refs/remotes/origin/{AUDIT}", tip)
    repo.git("branch", "-D", AUDIT)
    result = repo.flaggate("audit", "verify")
    assert result.code == 0, result.stderr
    result = repo.flaggate("audit", "query", "--type", "flag.deleted")
    assert f"from origin/{AUDIT} at {tip[:12]}" in result.stderr


def test_an_explicit_ref_and_dir(repo: GitRepo) -> None:
    # A log kept on the default branch below a path (Settings.spec.audit.path).
    commit_log(repo, dict(month_files(CHAINED, "compliance/audit")), ref="main")
    result = repo.flaggate("audit", "verify", "--ref", "main", "--dir", "compliance/audit")
    assert result.code == 0, result.stderr
    assert "13 records" in result.stdout


def test_a_directory_source(repo: GitRepo, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for path, data in month_files(CHAINED).items():
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_bytes(data)
    readme = checkout / "audit" / "README.md"
    readme.write_text("not a month\n")
    result = repo.flaggate("audit", "verify", "--path", str(checkout))
    assert result.code == 1
    assert result.stderr.splitlines()[0] == f"{readme}: {log.STRAY}"
    readme.unlink()
    result = repo.flaggate("audit", "verify", "--path", str(checkout))
    assert result.code == 0, result.stderr
    assert "13 records" in result.stdout
    result = repo.flaggate(
        "audit", "query", "--path", str(checkout), "--actor", "bob", "--format", "json"
    )
    assert ids(result) == [r["id"] for r in RECORDS if r["actor"]["login"] == "bob"]
    november = checkout / "audit" / "2026" / "11.jsonl"
    november.write_bytes(november.read_bytes().replace(b"FEAT-3", b"FEAT-4"))
    result = repo.flaggate("audit", "verify", "--path", str(checkout))
    assert result.code == 1
    assert result.stderr.startswith(f"{november}:1: record {RECORDS[9]['id']}: hash mismatch")
    source = DirectorySource(checkout)
    assert [f.path for f in source.files()] == [
        str(checkout / "audit" / "2026" / m) for m in ("09.jsonl", "10.jsonl", "11.jsonl")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "--ref", "nope"), "flaggate: error: unknown revision 'nope'"),
        (("query", "--since", "last week"), "flaggate: error: --since 'last week': use YYYY-MM-DD"),
        (("export", "--to", "2026-13-01"), "flaggate: error: --to '2026-13-01': use YYYY-MM-DD"),
        (("archive", "--older-than", "30", "--path", "."), "flaggate: error: archive rewrites"),
        (("verify", "--path", "missing"), "flaggate: error: no audit log in "),
    ],
)
def test_errors_are_one_line_with_exit_2(
    repo: GitRepo, args: tuple[str, ...], message: str
) -> None:
    result = repo.flaggate("audit", *args)
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message), result.stderr


def test_no_audit_branch_is_an_error(tmp_path: Path) -> None:
    empty = GitRepo(tmp_path / "empty")
    result = empty.flaggate("audit", "query")
    assert result.code == 2
    assert result.stderr == (
        f"flaggate: error: no audit branch: neither {AUDIT} nor origin/{AUDIT} exists "
        f"(git fetch origin {AUDIT}, or pass --ref or --path)\n"
    )


# --- query -----------------------------------------------------------------------------------


def _at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["timestamp"])


QUERIES: list[tuple[tuple[str, ...], Callable[[dict[str, Any]], bool]]] = [
    ((), lambda r: True),
    (("--type", "flag.toggled"), lambda r: r["eventType"] == "flag.toggled"),
    (
        ("--type", "flag.toggled", "--type", "approval.bypassed"),
        lambda r: r["eventType"] in ("flag.toggled", "approval.bypassed"),
    ),
    (("--actor", "bob"), lambda r: r["actor"]["login"] == "bob"),
    (("--actor", "zoë"), lambda r: r["actor"]["login"] == "zoë"),
    (("--flag", "search-v2"), lambda r: r["resource"]["id"] == "search-v2"),
    (("--flag", "technical-review"), lambda r: False),
    (("--resource", "technical-review"), lambda r: r["resource"]["id"] == "technical-review"),
    (("--env", "production"), lambda r: r["resource"]["environment"] == "production"),
    (("--ticket", "FEAT-2"), lambda r: r["context"]["ticketId"] == "FEAT-2"),
    (("--pr", "104"), lambda r: r["context"]["pullRequest"] == 104),
    (("--since", "2026-10-01"), lambda r: r["timestamp"] >= "2026-10-01"),
    (("--until", "2026-10-15"), lambda r: r["timestamp"] < "2026-10-16"),
    (("--since", "2026-10"), lambda r: r["timestamp"] >= "2026-10"),
    (("--until", "2026-10"), lambda r: r["timestamp"] < "2026-11"),
    (
        ("--since", "2026-10-05T12:00:00Z", "--until", "2026-11-02T09:30:00+01:00"),
        lambda r: "2026-10-05T12" <= r["timestamp"] <= "2026-11-02T08:30:00Z",
    ),
    (
        ("--since", "2026-10-05T12:00:00.5Z"),
        lambda r: _at(r) > datetime(2026, 10, 5, 12, tzinfo=UTC),
    ),
    (
        ("--env", "production", "--type", "flag.toggled", "--since", "2026-10-01"),
        lambda r: (
            r["resource"]["environment"] == "production"
            and r["eventType"] == "flag.toggled"
            and r["timestamp"] >= "2026-10"
        ),
    ),
    (("--actor", "nobody"), lambda r: False),
]


@pytest.mark.parametrize(
    ("args", "wanted"), QUERIES, ids=[" ".join(q[0]) or "all" for q in QUERIES]
)
def test_query_filters(
    repo: GitRepo, args: tuple[str, ...], wanted: Callable[[dict[str, Any]], bool]
) -> None:
    expected = [r["id"] for r in RECORDS if wanted(r)]
    assert ids(repo.flaggate("audit", "query", *args, "--format", "json")) == expected


def test_query_formats(repo: GitRepo) -> None:
    lines = repo.flaggate("audit", "query", "--actor", "bob", "--format", "jsonl").stdout
    bob = [r for r in CHAINED if r["actor"]["login"] == "bob"]
    assert lines.encode() == b"".join(line_of(r) + b"\n" for r in bob)  # stored bytes verbatim
    table = repo.flaggate("audit", "query", "--pr", "104")
    assert table.code == 0
    rows = table.stdout.splitlines()
    assert rows[0].split() == [
        "TIMESTAMP",
        "EVENT",
        "ACTOR",
        "RESOURCE",
        "ENVIRONMENT",
        "PR",
        "TICKET",
    ]
    assert rows[1].split() == [
        "2026-10-01T00:00:00Z",
        "flag.toggled",
        "bob",
        "search-v2",
        "production",
        "#104",
        "FEAT-1",
    ]
    assert rows[2].split() == [
        "2026-10-05T12:00:00Z",
        "approval.bypassed",
        "dave",
        "emergency",
        "-",
        "#104",
        "FEAT-1",
    ]
    assert (
        table.stderr
        == f"flaggate: 2 record(s) from {AUDIT} at {repo.git('rev-parse', AUDIT)[:12]}\n"
    )
    assert repo.flaggate("audit", "query", "--actor", "nobody", "--format", "json").stdout == "[]\n"


def test_query_skips_a_garbled_line_with_a_warning(repo: GitRepo) -> None:
    rewrite(repo, "audit/2026/10.jsonl", _truncate_last)
    result = repo.flaggate("audit", "query", "--format", "json")
    assert ids(result) == [r["id"] for r in RECORDS if r is not RECORDS[8]]
    assert f"warning: audit/2026/10.jsonl:5: {log.GARBLED}, skipped" in result.stderr
    assert result.stderr.endswith("; 1 skipped, see the warnings above\n")


# --- export ----------------------------------------------------------------------------------


def test_csv_export_round_trips_through_the_csv_module(repo: GitRepo) -> None:
    result = repo.flaggate("audit", "export", "--from", "2026-10-01", "--to", "2026-11-30")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    chosen = [r for r in CHAINED if r["timestamp"] >= "2026-10"]
    assert [row["id"] for row in rows] == [r["id"] for r in chosen]
    assert list(rows[0]) == list(log.CSV_COLUMNS)
    bypass = next(row for row in rows if row["eventType"] == "approval.bypassed")
    assert json.loads(bypass["action.metadata"])["justification"] == JUSTIFICATION
    assert bypass["action.previousState"] == ""  # null
    assert bypass["resource.environment"] == ""
    assert bypass["outcome.success"] == "true"
    toggle = rows[0]
    assert json.loads(toggle["action.newState"]) == {
        "enabled": True,
        "variant": "on",
        "rollout": None,
    }
    assert (toggle["actor.login"], toggle["actor.id"], toggle["context.pullRequest"]) == (
        "bob",
        "1005",
        "104",
    )
    assert (toggle["prevHash"], toggle["hash"]) == (CHAINED[3]["hash"], CHAINED[4]["hash"])
    failed = rows[-1]
    assert failed["outcome.errorMessage"] == 'sync failed: "timeout", retried\nthen gave up'
    assert failed["outcome.success"] == "false"
    assert failed["context.pullRequest"] == ""
    assert all(row["extra"] == "" for row in rows)


def test_csv_keeps_unknown_fields_in_extra() -> None:
    item = dict(CHAINED[0])
    item["actor"] = {**item["actor"], "roles": ["sre"]}
    item["severity"] = "SEV1"
    row = dict(zip(log.CSV_COLUMNS, log.csv_row(item), strict=True))
    assert json.loads(row["extra"]) == {"actor.roles": ["sre"], "severity": "SEV1"}


def test_json_export_is_an_array_of_the_stored_records(repo: GitRepo) -> None:
    result = repo.flaggate(
        "audit", "export", "--from", "2026-09", "--to", "2026-09", "--format", "json"
    )
    assert result.code == 0, result.stderr
    exported = result.json()
    assert exported == CHAINED[:4]
    assert all(record_hash(r) == r["hash"] for r in exported)


# --- archive ---------------------------------------------------------------------------------

ARCHIVE_AT = ("--at", "2026-12-20T00:00:00Z")


def test_archive_moves_old_months_into_gzip_in_one_commit(repo: GitRepo) -> None:
    before = repo.git("rev-parse", AUDIT)
    originals = {m: show(repo, f"audit/2026/{m}.jsonl") for m in ("09", "10")}
    dry = repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"dry run: would archive 2 month(s) of {AUDIT}:",
        "  audit/2026/09.jsonl -> audit/archive/2026-09.jsonl.gz",
        "  audit/2026/10.jsonl -> audit/archive/2026-10.jsonl.gz",
    ]
    assert repo.git("rev-parse", AUDIT) == before

    result = repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT)
    assert result.code == 0, result.stderr
    after = repo.git("rev-parse", AUDIT)
    assert result.stdout.splitlines()[0] == (
        f"archived 2 month(s) of {AUDIT}: {before[:12]} -> {after[:12]}"
    )
    assert result.stdout.splitlines()[-1] == f"push it with: git push origin {AUDIT}"
    assert repo.git("rev-parse", f"{AUDIT}^") == before
    assert repo.git("ls-tree", "-r", "--name-only", AUDIT).splitlines() == [
        "audit/2026/11.jsonl",
        "audit/archive/2026-09.jsonl.gz",
        "audit/archive/2026-10.jsonl.gz",
    ]
    for month, data in originals.items():
        assert gzip.decompress(show(repo, f"audit/archive/2026-{month}.jsonl.gz")) == data
    assert repo.git("status", "--porcelain") == ""  # nothing checked out changed

    verified = repo.flaggate("audit", "verify")
    assert verified.code == 0, verified.stderr
    assert f"head {CHAINED[-1]['hash']}" in verified.stdout
    assert ids(repo.flaggate("audit", "query", "--format", "json")) == [r["id"] for r in RECORDS]
    again = repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT)
    assert again.stdout.startswith("nothing to archive")
    assert repo.git("rev-parse", AUDIT) == after


def test_archive_never_takes_the_newest_month(repo: GitRepo) -> None:
    result = repo.flaggate("audit", "archive", "--older-than", "0", "--at", "2030-01-01T00:00Z")
    assert result.code == 0, result.stderr
    assert "audit/2026/11.jsonl" in repo.git("ls-tree", "-r", "--name-only", AUDIT).splitlines()


def test_tampering_inside_an_archive_is_found(repo: GitRepo) -> None:
    assert repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT).code == 0
    path = "audit/archive/2026-09.jsonl.gz"
    lines = gzip.decompress(show(repo, path)).split(b"\n")
    lines[1] = lines[1].replace(b'"login":"bob"', b'"login":"eve"')
    commit_log(repo, {path: gzip.compress(b"\n".join(lines))})
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.startswith(f"{path}:2: record {RECORDS[1]['id']}: hash mismatch (edited)")


def test_a_corrupt_archive_or_a_month_stored_twice_breaks_the_log(repo: GitRepo) -> None:
    september = show(repo, "audit/2026/09.jsonl")
    commit_log(repo, {"audit/archive/2026-09.jsonl.gz": gzip.compress(september)})
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.startswith(
        "audit/archive/2026-09.jsonl.gz: 2026-09 is also stored in audit/2026/09.jsonl"
    )
    commit_log(
        repo,
        {
            "audit/2026/09.jsonl": None,
            "audit/archive/2026-09.jsonl.gz": gzip.compress(september)[:-30],
        },
    )
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert result.stderr.startswith("audit/archive/2026-09.jsonl.gz: corrupt archive")


def test_archive_needs_a_local_branch_that_is_not_checked_out(repo: GitRepo) -> None:
    repo.checkout(AUDIT)
    result = repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT)
    assert result.code == 2
    assert f"{AUDIT} is checked out in {repo.root}" in result.stderr
    repo.checkout("main")
    tip = repo.git("rev-parse", AUDIT)
    repo.git("update-ref", f"refs/remotes/origin/{AUDIT}", tip)
    repo.git("branch", "-D", AUDIT)
    result = repo.flaggate("audit", "archive", "--older-than", "30", *ARCHIVE_AT)
    assert result.code == 2
    assert result.stderr == (
        f"flaggate: error: archive needs the local branch {AUDIT}, which does not exist "
        f"(git branch {AUDIT} origin/{AUDIT})\n"
    )


# --- the JSON Schema -------------------------------------------------------------------------


def test_records_validate_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for item in CHAINED:
        validator.validate(item)
    assert SCHEMA["properties"]["eventType"]["enum"] == list(EVENT_TYPES)


def test_records_built_by_collect_validate_against_the_schema() -> None:
    change = Change(
        "flag",
        "checkout-redesign",
        "production",
        ("toggled", "rollout"),
        {"enabled": False, "variant": "off", "rollout": None},
        {"enabled": True, "variant": "on", "rollout": {"on": 25, "off": 75}},
        25.0,
        "flags/checkout/checkout-redesign.yaml",
    )
    merge = MergeContext(
        "acme/feature-flags", None, "ab" * 20, datetime(2026, 11, 28, 12, tzinfo=UTC), "alice"
    )
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for item in chain(direct_push_records([change], merge)):
        validator.validate(item)


@pytest.mark.parametrize(
    "broken",
    [
        {"hash": "ABC"},
        {"prevHash": None},
        {"eventType": "access.granted"},
        {"timestamp": "2026-11-28 12:00"},
        {"outcome": {"errorCode": None}},
        {"extra": 1},
    ],
)
def test_the_schema_rejects_broken_records(broken: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**CHAINED[0], **broken}, SCHEMA, cls=jsonschema.Draft202012Validator)
