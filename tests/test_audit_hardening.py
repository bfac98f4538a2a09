"""`flaggate audit verify|query|export` on corrupted logs: every bad line, file or name is one
problem naming its file (and line), never a traceback and never a silent success; the rest of
the log is still read. Real files in a temporary directory (and a git branch), the CLI as a
subprocess."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flaggate.audit import log
from flaggate.audit.log import DirectorySource, Filter, query, verify
from flaggate.audit.record import MAX_RECORD, chain, dumps
from tests.cli_runner import run_cli
from tests.gitrepo import CliResult, GitRepo
from tests.test_audit_log import AUDIT, CHAINED, RECORDS, commit_log, git_bytes, month_files

# October holds records 5..9 (RECORDS[4:9]) on lines 1..5; September 1..4; November 10..13.
SEPTEMBER = "audit/2026/09.jsonl"
OCTOBER = "audit/2026/10.jsonl"
NOVEMBER = "audit/2026/11.jsonl"
TOO_LONG = f"record longer than {MAX_RECORD >> 20} MiB"
STRAY = "not an audit log file (expected YYYY/MM.jsonl or archive/YYYY-MM.jsonl.gz)"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A directory holding the three months of ``CHAINED`` below ``audit/``."""
    top = tmp_path / "log"
    write_log(top, CHAINED)
    return top


def write_log(top: Path, records: list[dict[str, Any]]) -> None:
    for path, data in month_files(records).items():
        (top / path).parent.mkdir(parents=True, exist_ok=True)
        (top / path).write_bytes(data)


def flaggate(top: Path, action: str, *args: str) -> CliResult:
    """`flaggate audit ACTION --path TOP ARGS`; its output must be UTF-8 with no control
    character but the newlines ending its lines."""
    done = run_cli(
        ["audit", action, "--path", str(top), *args],
        cwd=top.parent,
        env={**os.environ, "NO_COLOR": "1"},
        text=False,
    )
    for stream in (done.stderr, done.stdout if action == "verify" else b""):
        text = stream.decode()
        assert "Traceback" not in text and "internal error" not in text, text
        assert all(c.isprintable() for line in text.splitlines() for c in line), text
        assert "\r" not in text
    return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())


def at(top: Path, path: str, line: int | None = None) -> str:
    """How a message names a file (and line) of the log in ``top``."""
    shown = str(top / path)
    return shown if line is None else f"{shown}:{line}"


def problems(result: CliResult) -> list[str]:
    """What `verify` reported, without its summary."""
    return [line for line in result.stderr.splitlines() if not line.startswith("flaggate: ")]


def summary(result: CliResult) -> str:
    return result.stderr.splitlines()[-1]


def edit(top: Path, path: str, change: Callable[[list[bytes]], list[bytes]]) -> None:
    """Rewrite one month file, its lines (without newlines) changed by ``change``."""
    file = top / path
    lines = file.read_bytes().split(b"\n")
    assert lines.pop() == b""
    file.write_bytes(b"".join(line + b"\n" for line in change(lines)))


def named(number: int) -> str:
    """``record <id>: `` of RECORDS[number - 1], as messages name it."""
    return f"record {RECORDS[number - 1]['id']}: "


def exported_ids(result: CliResult) -> list[str]:
    assert result.code == 0, result.stderr
    return [item["id"] for item in json.loads(result.stdout)]


ALL = [r["id"] for r in RECORDS]


def _edited(lines: list[bytes], index: int) -> None:
    lines[index] = lines[index].replace(b'"mergedBy":"carol"', b'"mergedBy":"mallory"')


# --- NaN and other numbers JSON does not have ------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_is_one_problem_and_the_rest_is_still_verified(root: Path, constant: str) -> None:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[1] = lines[1].replace(b'{"action":', f'{{"nan":{constant},"action":'.encode(), 1)
        _edited(lines, 3)  # a later tampering is still found
        return lines

    edit(root, OCTOBER, change)
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{at(root, OCTOBER, 2)}: {named(6)}not valid JSON ({constant})",
        f"{at(root, OCTOBER, 4)}: {named(8)}hash mismatch (edited)",
    ]
    assert summary(result) == (
        f"flaggate: audit log directory {root / 'audit'} is broken: 2 problem(s) in 13 line(s) "
        "of 3 file(s); the first 5 are intact"
    )
    assert result.stdout == ""
    assert flaggate(root, "verify", "--full").stderr == result.stderr


@pytest.mark.parametrize("action", ["query", "export"])
def test_nan_is_skipped_with_a_warning_by_query_and_export(root: Path, action: str) -> None:
    edit(
        root,
        OCTOBER,
        lambda lines: [lines[0], lines[1].replace(b'"id":1006', b'"id":NaN'), *lines[2:]],
    )
    result = flaggate(root, action, "--format", "json")
    assert exported_ids(result) == ALL[:5] + ALL[6:]
    warning = f"flaggate: warning: {at(root, OCTOBER, 2)}: not valid JSON (NaN), skipped"
    assert f"{warning} (run `flaggate audit verify`)" in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1].endswith("; 1 skipped, see the warnings above")


def test_a_number_out_of_range_is_not_a_crash(root: Path) -> None:
    edit(
        root,
        OCTOBER,
        lambda lines: [lines[0], lines[1].replace(b'"id":1006', b'"id":1e999'), *lines[2:]],
    )
    reason = "not valid JSON (number 1e999 out of range)"
    result = flaggate(root, "verify")
    assert problems(result) == [f"{at(root, OCTOBER, 2)}: {named(6)}{reason}"]
    result = flaggate(root, "export", "--format", "json")
    assert exported_ids(result) == ALL[:5] + ALL[6:]
    assert f"{at(root, OCTOBER, 2)}: {reason}, skipped" in result.stderr


# --- files that do not fit the layout --------------------------------------------------------

STRAYS = [
    "audit/2025/13.jsonl",
    "audit/2025/00.jsonl",
    "audit/notes.jsonl",
    "audit/README.md",
    "audit/2026/1.jsonl",
    "audit/2026/10.jsonl.bak",
    "audit/2026/10.JSONL",
    "audit/26/10.jsonl",
    "audit/archive/2026-08.jsonl",
    "audit/archive/2026/08.jsonl.gz",
    "audit/2026/12/01.jsonl",
    "audit/.hidden",
]


def test_stray_files_are_each_reported_and_the_log_still_verified(root: Path) -> None:
    for path in STRAYS:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"{}\n")
    edit(root, NOVEMBER, lambda lines: [*lines[:1], *lines[2:]])
    result = flaggate(root, "verify")
    assert result.code == 1
    expected = [f"{at(root, path)}: {STRAY}" for path in sorted(STRAYS)]
    assert problems(result) == [*expected, f"{at(root, NOVEMBER, 2)}: {named(12)}{log.DELETED}"]


def test_query_warns_about_stray_files(root: Path) -> None:
    (root / "audit/2025/13.jsonl").parent.mkdir()
    (root / "audit/2025/13.jsonl").write_bytes(b"")
    result = flaggate(root, "query", "--format", "json")
    assert exported_ids(result) == ALL
    assert f"warning: {at(root, 'audit/2025/13.jsonl')}: {STRAY}, skipped" in result.stderr


def test_strays_on_a_git_branch_symlinks_and_submodules(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("README.md", "x\n")
    repo.commit()
    commit_log(repo, {**month_files(CHAINED), "audit/2025/13.jsonl": b"", "notes.txt": b""})
    blob = git_bytes(repo, "hash-object", "-w", "--stdin", stdin=b"2026/11.jsonl").decode()
    index = tmp_path / "index"
    git_bytes(repo, "read-tree", AUDIT, index=index)
    for mode, oid, path in (
        ("120000", blob.strip(), "audit/2026/12.jsonl"),
        ("160000", repo.git("rev-parse", "main"), "audit/vendor"),
    ):
        git_bytes(repo, "update-index", "--add", "--cacheinfo", f"{mode},{oid},{path}", index=index)
    tree = git_bytes(repo, "write-tree", index=index).decode().strip()
    commit = git_bytes(repo, "commit-tree", tree, "-p", AUDIT, "-m", "x").decode().strip()
    repo.git("update-ref", f"refs/heads/{AUDIT}", commit)
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert problems(result) == [
        f"audit/2025/13.jsonl: {STRAY}",
        "audit/2026/12.jsonl: not a regular file (a symbolic link)",
        "audit/vendor: not a regular file (a submodule)",
    ]  # notes.txt is outside the log's directory
    assert "13 line(s) of 3 file(s)" in summary(result)


def test_a_missing_blob_and_a_name_that_is_not_utf8_on_a_git_branch(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("README.md", "x\n")
    repo.commit()
    commit_log(repo, month_files(CHAINED))
    index = tmp_path / "index"
    git_bytes(repo, "read-tree", AUDIT, index=index)
    empty = git_bytes(repo, "hash-object", "-w", "--stdin", stdin=b"").decode().strip()
    entries = f"100644 {'ab' * 20}\taudit/2026/12.jsonl\n".encode()
    entries += f"100644 {empty}\t".encode() + b"audit/\xff\x1b.jsonl\n"
    git_bytes(repo, "update-index", "--index-info", stdin=entries, index=index)
    tree = git_bytes(repo, "write-tree", "--missing-ok", index=index).decode().strip()
    commit = git_bytes(repo, "commit-tree", tree, "-p", AUDIT, "-m", "x").decode().strip()
    repo.git("update-ref", f"refs/heads/{AUDIT}", commit)
    result = repo.flaggate("audit", "verify")
    assert result.code == 1
    assert problems(result) == [
        f"audit/\\udcff\\x1b.jsonl: {STRAY}",
        f"audit/2026/12.jsonl: blob {'ab' * 20} is missing from the repository",
    ]
    assert "13 line(s) of 4 file(s)" in summary(result)


def test_a_directory_that_cannot_be_read(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scandir, locked = os.scandir, str(root / "audit" / "2026")

    def refuse(path: Any = ".") -> Any:
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    result = verify(DirectorySource(root))
    monkeypatch.undo()
    assert [str(p) for p in result.problems] == [f"{locked}: cannot read: Permission denied"]
    assert (result.records, result.files) == (0, 0)


def test_a_directory_where_a_month_file_is_expected(root: Path) -> None:
    (root / "audit/2026/12.jsonl").mkdir()
    (root / "audit/archive/2026-08.jsonl.gz").mkdir(parents=True)
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{at(root, 'audit/2026/12.jsonl')}: not a regular file (a directory)",
        f"{at(root, 'audit/archive/2026-08.jsonl.gz')}: not a regular file (a directory)",
    ]


def test_a_symlink_or_a_fifo_is_reported_and_never_opened(root: Path) -> None:
    (root / "audit/2026/12.jsonl").symlink_to("11.jsonl")
    os.mkfifo(root / "audit/2027.jsonl")  # opening it would block
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{at(root, 'audit/2026/12.jsonl')}: not a regular file (a symbolic link)",
        f"{at(root, 'audit/2027.jsonl')}: not a regular file (a FIFO)",
    ]


def test_a_month_stored_twice_is_one_problem_and_the_rest_is_verified(root: Path) -> None:
    archive = root / "audit/archive/2026-09.jsonl.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress((root / "audit/2026/09.jsonl").read_bytes()))
    edit(root, OCTOBER, lambda lines: [*lines[:2], *lines[3:]])
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, 'audit/archive/2026-09.jsonl.gz')}: 2026-09 is also stored in "
        f"{at(root, 'audit/2026/09.jsonl')}",
        f"{at(root, OCTOBER, 3)}: {named(8)}{log.DELETED}",
    ]
    # query cannot tell which copy holds the month
    result = flaggate(root, "query")
    assert result.code == 2
    assert "2026-09 is also stored in" in result.stderr


# --- CR, BOM, the last newline ---------------------------------------------------------------


def test_a_crlf_line_is_reported_and_the_chain_goes_on(root: Path) -> None:
    edit(root, OCTOBER, lambda lines: [*lines[:2], lines[2] + b"\r", *lines[3:]])
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [f"{at(root, OCTOBER, 3)}: {named(7)}line ends with CR (CRLF)"]
    assert exported_ids(flaggate(root, "query", "--format", "json")) == ALL


def test_a_file_saved_with_crlf_reports_every_line(root: Path) -> None:
    edit(root, NOVEMBER, lambda lines: [line + b"\r" for line in lines])
    result = flaggate(root, "verify", "--full")
    assert problems(result) == [
        f"{at(root, NOVEMBER, n)}: {named(9 + n)}line ends with CR (CRLF)" for n in range(1, 5)
    ]


def test_a_byte_order_mark_is_reported(root: Path) -> None:
    edit(root, OCTOBER, lambda lines: [b"\xef\xbb\xbf" + lines[0], *lines[1:]])
    edit(root, NOVEMBER, lambda lines: [*lines[:2], b"\xef\xbb\xbf" + lines[2], *lines[3:]])
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{at(root, OCTOBER, 1)}: {named(5)}starts with a byte-order mark",
        f"{at(root, NOVEMBER, 3)}: {named(12)}starts with a byte-order mark",
    ]
    result = flaggate(root, "query", "--format", "jsonl")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ALL


def test_a_last_line_without_newline_is_reported(root: Path) -> None:
    november = root / NOVEMBER
    november.write_bytes(november.read_bytes()[:-1])
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [f"{at(root, NOVEMBER, 4)}: no newline at the end of the file"]
    assert exported_ids(flaggate(root, "export", "--format", "json")) == ALL


def test_a_truncated_last_line_without_newline(root: Path) -> None:
    november = root / NOVEMBER
    november.write_bytes(november.read_bytes()[:-50])
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, NOVEMBER, 4)}: {named(13)}{log.GARBLED}",
        f"{at(root, NOVEMBER, 4)}: no newline at the end of the file",
    ]


# --- long lines ------------------------------------------------------------------------------


def test_a_record_longer_than_the_limit_is_skipped_without_loading_it(root: Path) -> None:
    big = {**RECORDS[6], "action": {"type": "updated", "metadata": {"blob": "x" * MAX_RECORD}}}
    records = list(chain([*RECORDS[:6], big, *RECORDS[7:]]))
    write_log(root, records)
    edit(root, NOVEMBER, lambda lines: (_edited(lines, 1), lines)[1])
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{at(root, OCTOBER, 3)}: {TOO_LONG}",
        f"{at(root, NOVEMBER, 2)}: {named(11)}hash mismatch (edited)",
    ]
    for action in ("query", "export"):
        result = flaggate(root, action, "--format", "json")
        assert exported_ids(result) == ALL[:6] + ALL[7:]
        assert f"{at(root, OCTOBER, 3)}: {TOO_LONG}, skipped" in result.stderr


def reference_lines(data: bytes, limit: int) -> tuple[list[bytes], bool]:
    lines = data.split(b"\n")
    unterminated = lines[-1] != b""
    if not unterminated:
        lines.pop()
    return [log.TOO_LONG if len(line) > limit else line for line in lines], unterminated


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 100])
@pytest.mark.parametrize("limit", [1, 4, 9, 50])
def test_lines_are_split_with_a_limit_whatever_the_chunk_size(size: int, limit: int) -> None:
    data = b"a\n\nbbbb\nccccccccc\n" + b"d" * 60 + b"\ne\n" + b"f" * 12 + b"\n\ng"
    for sample in (data, data + b"\n", data[:-1], b"", b"\n", b"x" * 70):
        lines = log.Lines(_pieces(sample, size), limit)
        assert [line for batch in lines for line in batch] == reference_lines(sample, limit)[0]
        assert lines.unterminated == reference_lines(sample, limit)[1]


# --- other corruptions -----------------------------------------------------------------------

CORRUPT: list[tuple[str, bytes, str]] = [
    ("invalid UTF-8", b'{"a":"\xff"}', "not valid UTF-8 (byte 0xff at column 7)"),
    ("a UTF-8 surrogate", b'{"a":"\xed\xa0\x80"}', "not valid UTF-8 (byte 0xed at column 7)"),
    ("an unpaired surrogate", b'{"a":"\\ud800"}', "not valid JSON (unpaired surrogate)"),
    ("an array", b"[1,2]", "not a record: not a JSON object"),
    ("a string", b'"text"', "not a record: not a JSON object"),
    ("null", b"null", "not a record: not a JSON object"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "not valid JSON (nested too deeply)"),
    ("a huge number", b'{"a":' + b"9" * 5000 + b"}", "not valid JSON (number too long)"),
    ("no hash", b'{"id":"x","prevHash":"0"}', "record x: not a record: no `hash` string"),
    ("an id that is a number", b'{"id":5,"prevHash":"","hash":""}', "not a record: no `id` string"),
    ("a null prevHash", b'{"id":"x","prevHash":null,"hash":""}', "record x: not a record: no "),
    ("a duplicate key", b'{"id":"x","id":"y"}', 'not valid JSON (duplicate key "id")'),
    ("only spaces", b"   ", "empty line (a record was removed)"),
]


@pytest.mark.parametrize(("line", "reason"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_a_corrupt_line_is_one_problem_and_the_next_months_are_verified(
    root: Path, line: bytes, reason: str
) -> None:
    edit(root, OCTOBER, lambda lines: [*lines[:2], line, *lines[3:]])
    edit(root, NOVEMBER, lambda lines: (_edited(lines, 2), lines)[1])
    for full in ((), ("--full",)):
        result = flaggate(root, "verify", *full)
        assert result.code == 1
        found = problems(result)
        assert len(found) == 2, found
        assert found[0].startswith(f"{at(root, OCTOBER, 3)}: {reason}"), found
        assert found[1] == f"{at(root, NOVEMBER, 3)}: {named(12)}hash mismatch (edited)"
    result = flaggate(root, "export", "--format", "json")
    assert exported_ids(result) == [i for i in ALL if i != RECORDS[6]["id"]]
    if line.strip():
        assert f"{at(root, OCTOBER, 3)}: " in result.stderr


def test_duplicate_ids_are_all_reported(root: Path) -> None:
    again = list(chain([RECORDS[0], RECORDS[5]], previous=CHAINED[-1]["hash"]))
    with (root / NOVEMBER).open("ab") as out:
        out.write(b"".join(dumps(r).encode() + b"\n" for r in again))
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, NOVEMBER, 5)}: {named(1)}duplicate id (first at {at(root, SEPTEMBER, 1)})",
        f"{at(root, NOVEMBER, 6)}: {named(6)}duplicate id (first at {at(root, OCTOBER, 2)})",
    ]


def test_a_duplicated_line_is_a_duplicate_not_also_a_broken_link(root: Path) -> None:
    edit(root, OCTOBER, lambda lines: [*lines[:2], lines[1], *lines[2:]])
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, OCTOBER, 3)}: {named(6)}duplicate id (first at {at(root, OCTOBER, 2)})"
    ]


def test_a_corrupt_archive_is_one_problem_and_the_next_month_is_verified(root: Path) -> None:
    september = root / "audit/2026/09.jsonl"
    archive = root / "audit/archive/2026-09.jsonl.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(september.read_bytes())[:-30])
    september.unlink()
    edit(root, OCTOBER, lambda lines: (_edited(lines, 1), lines)[1])
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, 'audit/archive/2026-09.jsonl.gz')}: corrupt archive: the gzip data is "
        "truncated",
        f"{at(root, OCTOBER, 2)}: {named(6)}hash mismatch (edited)",
    ]


def test_an_unreadable_file_is_one_problem(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    september = str(root / "audit/2026/09.jsonl")

    def refuse(path: str, *args: Any, **kwargs: Any) -> Any:
        if path == september:
            raise PermissionError(13, "Permission denied", path)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(log, "open", refuse, raising=False)
    result = verify(DirectorySource(root))
    assert [str(p) for p in result.problems] == [f"{september}: cannot read: Permission denied"]
    assert (result.records, result.files, result.ok) == (9, 3, False)
    with pytest.raises(log.LogError, match="cannot read: Permission denied"):
        list(query(DirectorySource(root), Filter()))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_file_from_the_cli(root: Path) -> None:
    (root / "audit/2026/09.jsonl").chmod(0)
    result = flaggate(root, "verify")
    assert problems(result) == [
        f"{at(root, 'audit/2026/09.jsonl')}: cannot read: Permission denied"
    ]


def test_at_most_a_hundred_problems_are_shown_and_all_are_counted(tmp_path: Path) -> None:
    top = tmp_path / "log"
    records = [{**RECORDS[0], "id": f"id-{i}"} for i in range(150)]
    write_log(top, list(chain(records)))
    edit(top, "audit/2026/09.jsonl", lambda lines: [line + b"\r" for line in lines])
    result = flaggate(top, "verify")
    assert len(problems(result)) == log.MAX_PROBLEMS == 100
    assert result.stderr.splitlines()[-2] == "flaggate: 50 more problem(s) not shown"
    assert "150 problem(s) in 150 line(s)" in summary(result)


# --- what a crafted line can put in a message ------------------------------------------------


def test_control_characters_in_messages_are_escaped_and_values_cut(root: Path) -> None:
    forged = b'{"hash":"' + b"a" * 64 + b'","id":"\x1b[2J\rflaggate: ok\x07","x":}'
    long_id = b'{"hash":"' + b"b" * 64 + b'","id":"' + b"i" * 200 + b'","x":}'
    edit(root, OCTOBER, lambda lines: [*lines[:1], forged, long_id, *lines[3:]])
    stray = root / "audit" / "evil\n\x1b[31mok: 13 records\u202e.jsonl"
    stray.write_bytes(b"")
    result = flaggate(root, "verify")
    assert result.code == 1
    assert problems(result) == [
        f"{root}/audit/evil\\n\\x1b[31mok: 13 records\\u202e.jsonl: {STRAY}",
        f"{at(root, OCTOBER, 2)}: record \\x1b[2J\\rflaggate: ok\\x07: {log.GARBLED}",
        f"{at(root, OCTOBER, 3)}: record {'i' * 97}...: {log.GARBLED}",
    ]
    result = flaggate(root, "query")
    assert "evil\\n\\x1b[31m" in result.stderr


def test_the_table_escapes_control_characters(tmp_path: Path) -> None:
    top = tmp_path / "log"
    evil = {**RECORDS[0], "actor": {"login": "eve\u001b[31m\u202eal", "id": 1}}
    write_log(top, list(chain([evil])))
    result = flaggate(top, "query")
    assert result.code == 0
    assert "eve\\x1b[31m\\u202eal" in result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_a_record_with_a_timestamp_out_of_range_is_reported_by_a_dated_query(
    tmp_path: Path,
) -> None:
    top = tmp_path / "log"
    odd = {**RECORDS[0], "timestamp": "0001-01-01T00:00:00+01:00"}
    records = list(chain([RECORDS[1], odd]))
    for item in records:  # both in one month file
        path = top / "audit/2026/09.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as out:
            out.write(dumps(item).encode() + b"\n")
    result = flaggate(top, "query", "--since", "2026-01-01", "--format", "json")
    assert exported_ids(result) == [RECORDS[1]["id"]]
    assert (
        f"{at(top, 'audit/2026/09.jsonl', 2)}: {named(1)}no valid timestamp, skipped"
        in result.stderr
    )
    assert flaggate(top, "verify").code == 0
    # not reported when the record would not match anyway
    result = flaggate(top, "query", "--since", "2026-01-01", "--actor", "nobody")
    assert result.stderr.endswith(" 0 record(s) from directory " + str(top / "audit") + "\n")
