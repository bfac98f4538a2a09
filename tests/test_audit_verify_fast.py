"""`audit verify` on every core (flaggate.audit.verify_fast): an intact log is confirmed in
worker processes with the same result as the walk; anything else falls back to the walk,
which words every problem as before."""

from __future__ import annotations

import hashlib
import os
import random
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from flaggate.audit import log, verify_fast
from flaggate.audit.log import DirectorySource, GitSource, VerifyResult, verify
from flaggate.audit.record import GENESIS, MAX_RECORD, chain
from flaggate.errors import GitError
from flaggate.git import Git
from tests.gitrepo import GitRepo
from tests.test_audit_log import (
    CHAINED,
    RECORDS,
    TAMPERING,
    commit_log,
    git_bytes,
    line_of,
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


# --- the batch check against intact_line ------------------------------------------------------
#
# The workers check a batch of lines with a few joins and comparisons instead of calling
# intact_line on each line. `reference` is the per-line check they replace: the tests below
# compare the two on logs built to trip the batch check up, and any log the batch check
# accepted and the reference did not would fail them.


def reference(chunks: Iterable[bytes]) -> verify_fast.FileSummary | None:
    """The summary of a file, line by line: every line as intact_line accepts it, each
    linked to the one before, none too long, the last one ended by a newline."""
    fingerprints = array("q")
    count = 0
    first_prev = last_hash = first_line = last_line = b""
    lines = log.Lines(chunks)
    for batch in lines:
        for line in batch:
            found = log.intact_line(line)
            if found is None:
                return None
            stored, prev, ident = found
            if count == 0:
                first_prev, first_line = prev, line
            elif prev != last_hash:
                return None
            fingerprints.append(hash(ident))
            last_hash, last_line = stored, line
            count += 1
    if lines.unterminated:
        return None
    return verify_fast.FileSummary(
        count, first_prev, last_hash, first_line, last_line, fingerprints
    )


def seal(lines: list[bytes], previous: bytes | None = None) -> list[bytes]:
    """The lines re-linked and re-hashed as intact_line reads them, wherever their shape lets
    it find the members: what a forger who computes the hashes would write."""
    sealed = []
    for line in lines:
        p = line.rfind(b',"prevHash":"')
        if previous is not None and p >= 0 and line[p + 77 : p + 78] == b'"':
            line = line[: p + 13] + previous + line[p + 77 :]
        i = line.rfind(b',"hash":"')
        if i > 0 and line[i + 73 : i + 81] == b'","id":"':
            digest = hashlib.sha256(line[:i] + line[i + 74 :]).hexdigest().encode()
            line = line[: i + 9] + digest + line[i + 73 :]
            previous = digest
        sealed.append(line)
    return sealed


def pieces(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """``data`` cut in chunks of each of ``sizes`` in turn."""
    cut: list[bytes] = []
    at = 0
    while at < len(data):
        size = sizes[len(cut) % len(sizes)]
        cut.append(data[at : at + size])
        at += size
    return cut


def both(data: bytes, sizes: Sequence[int] = (1 << 20,)) -> verify_fast.FileSummary | None:
    """The batch check's summary of ``data`` (read in chunks of ``sizes``), once it is known
    to be the reference's."""
    chunks = pieces(data, sizes)
    found = verify_fast.summarize(chunks)
    assert found == reference(chunks)
    return found


def joined(lines: Sequence[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


LINES = [line_of(item) for item in CHAINED]
SNIPPETS = [
    b'ash":"',
    b',"hash":"',
    b',"prevHash":"',
    b'"',
    b"\\",
    b"{",
    b"}",
    b"\r",
    b" ",
    b"\n",
    b',"id":"',
    b'","id":"',
    b'"stash":"x",',
    b'"stash":1,',
    b"a" * 64,
    GENESIS.encode(),
    b"\xef\xbb\xbf",
    b',"hash":"' + b"1" * 64 + b'"',
    b'ash":',
    b'","id":"x\\"',
]


def _mutated(rng: random.Random) -> list[bytes]:
    """Some lines of the log, changed at random places (and mostly sealed again)."""
    lines = LINES[rng.randrange(3) : rng.randrange(5, len(LINES) + 1)]
    for _ in range(rng.choice((1, 1, 2, 3))):
        k = rng.randrange(len(lines))
        line = lines[k]
        at = rng.randrange(len(line) + 1)
        kind = rng.randrange(6)
        if kind == 0:
            line = line[:at] + rng.choice(SNIPPETS) + line[at:]
        elif kind == 1:
            line = line[:at] + line[at + rng.randrange(1, 90) :]
        elif kind == 2:
            line = line[:at] + bytes([rng.randrange(256)]) + line[at + 1 :]
        elif kind == 3:  # the hash member moved elsewhere
            i = line.rfind(b',"hash":"')
            member, rest = line[i : i + 74], line[:i] + line[i + 74 :]
            at = rng.randrange(len(rest) + 1)
            line = rest[:at] + member + rest[at:]
        elif kind == 4:
            lines.insert(k, rng.choice(lines))
            continue
        else:
            lines[k], lines[-1] = lines[-1], lines[k]
            continue
        lines[k] = line
    if rng.random() < 0.8:
        lines = seal(lines, None if rng.random() < 0.5 else GENESIS.encode())
    return lines


def test_the_batch_check_accepts_exactly_what_intact_line_accepts() -> None:
    rng = random.Random(2025)
    accepted = 0
    for _ in range(3000):
        data = joined(_mutated(rng))
        if rng.random() < 0.05:
            data = data[:-1]
        sizes = [rng.choice((1, 2, 7, 64, 500, 4096, 1 << 20)) for _ in range(3)]
        accepted += both(data, sizes) is not None
    assert 1000 < accepted < 2000  # both kinds of logs were tried


def test_an_intact_file_is_summarized_whatever_the_chunks() -> None:
    data = joined(LINES)
    whole = both(data)
    assert whole is not None and whole.lines == len(LINES)
    assert whole.first_prev == GENESIS.encode()
    assert whole.last_hash == CHAINED[-1]["hash"].encode()
    assert (whole.first_line, whole.last_line) == (LINES[0], LINES[-1])
    for size in (1, 2, 3, 80, 81, 1000):
        assert both(data, [size]) == whole
    assert both(b"") == verify_fast.FileSummary(0, b"", b"", b"", b"", array("q"))


def _replaced(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(line: bytes) -> bytes:
        assert old in line
        return line.replace(old, new, 1)

    return change


def _member_moved(line: bytes) -> bytes:
    i = line.rfind(b',"hash":"')
    rest = line[:i] + line[i + 74 :]
    at = rest.index(b',"outcome":')
    return rest[:at] + line[i : i + 74] + rest[at:]


def _second_hash_member(line: bytes) -> bytes:
    # Two hash members and no prevHash: `ash":"` is still there twice.
    i = line.rfind(b',"hash":"')
    p = line.rfind(b',"prevHash":"')
    return line[:p] + line[i : i + 74] + line[p + 78 :]


def _cut_prev(line: bytes) -> bytes:
    p = line.rfind(b',"prevHash":"')
    return line[: p + 76] + line[p + 77 :]


FORGED: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("a nested key ending in ash", _replaced(b'"outcome":{', b'"outcome":{"stash":"x",')),
    ("the hash member after the id", _member_moved),
    ("two hash members", _second_hash_member),
    ("a CR at the end", lambda line: line + b"\r"),
    ("a byte-order mark", lambda line: b"\xef\xbb\xbf" + line),
    ("no closing brace", lambda line: line[:-1] + b" "),
    ("a space after the closing brace", lambda line: line + b" "),
    ("an escape in the id", _replaced(b'"id":"0', b'"id":"\\u0030')),
    ("a prevHash one digit short", _cut_prev),
    ("an empty line", lambda line: b""),
]
"""Lines intact_line refuses although their hashes hold (sealed after the change)."""


@pytest.mark.parametrize("change", [case[1] for case in FORGED], ids=[c[0] for c in FORGED])
def test_a_line_intact_line_refuses_is_refused_wherever_it_is(
    change: Callable[[bytes], bytes],
) -> None:
    for at in (0, 1, len(LINES) - 1):  # the first line, one inside a batch, the last one
        lines = [*LINES[:at], change(LINES[at]), *LINES[at + 1 :]]
        assert both(joined(seal(lines, GENESIS.encode()))) is None


def test_hashes_links_and_ids_are_checked_line_by_line() -> None:
    sealed = seal(list(LINES), GENESIS.encode())
    assert both(joined(sealed)) is not None
    upper = [
        *sealed[:4],
        sealed[4].replace(CHAINED[4]["hash"].encode(), CHAINED[4]["hash"].upper().encode()),
        *sealed[5:],
    ]
    assert both(joined(upper)) is None  # the hash in capitals
    assert both(joined([*sealed[:4], sealed[5], sealed[4], *sealed[6:]])) is None  # reordered
    assert both(joined([*sealed[:4], *sealed[5:]])) is None  # a line removed
    assert both(joined([*sealed[:4], _edited(sealed[4]), *sealed[5:]])) is None
    assert both(joined(LINES)[:-1]) is None  # no newline at the end


def _edited(line: bytes) -> bytes:
    return line.replace(b'"login":"', b'"login":"x', 1)


def test_a_line_longer_than_the_limit_is_refused() -> None:
    big = {**RECORDS[0], "action": {"type": "updated", "metadata": {"blob": "x" * MAX_RECORD}}}
    lines = [line_of(item) for item in chain([big, *RECORDS[1:3]])]
    assert len(lines[0]) > MAX_RECORD
    for sizes in ([1 << 20], [MAX_RECORD + (1 << 20)], [3 << 20, 1]):
        assert both(joined(lines), sizes) is None
    fits = {**big, "action": {"type": "updated", "metadata": {"blob": "x" * (MAX_RECORD - 2000)}}}
    lines = [line_of(item) for item in chain([fits, *RECORDS[1:3]])]
    assert both(joined(lines), [1 << 20]) is not None


def test_a_line_without_end_is_given_up_without_reading_it_all() -> None:
    read = 0

    def endless() -> Iterator[bytes]:
        nonlocal read
        while read < 64 << 20:
            read += 1 << 20
            yield b"x" * (1 << 20)

    assert verify_fast.summarize(endless()) is None
    assert read <= MAX_RECORD + (1 << 20)


UNSEALED = [
    ("extra whitespace", _replaced(b'"action":{', b'"action": {')),
    ("a nested key ending in ash", _replaced(b'"outcome":{', b'"outcome":{"stash":"x",')),
    ("keys in another order", _replaced(b'"login":"', b'"zz":1,"login":"')),
]
"""Lines intact_line refuses that only a parse can judge: the walk finds them valid (the hash
is over canonical JSON, not over the stored bytes) or not, never the workers."""


@pytest.mark.parametrize("change", [case[1] for case in UNSEALED], ids=[c[0] for c in UNSEALED])
def test_a_line_only_a_parse_can_judge_is_left_to_the_walk(
    repo: GitRepo, fast_path_used: list[bool], change: Callable[[bytes], bytes]
) -> None:
    rewrite(repo, "audit/2026/10.jsonl", lambda lines: [lines[0], change(lines[1]), *lines[2:]])
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    found = verify(source())
    assert fast_path_used == [False]
    assert found == walked(source)


def _forging(change: Callable[[bytes], bytes]) -> Callable[[list[bytes]], list[bytes]]:
    """The second line of a file changed, and the file sealed again."""
    return lambda lines: seal([lines[0], change(lines[1]), *lines[2:]])


def test_forged_lines_in_a_repository_fall_back_to_the_walk(
    repo: GitRepo, fast_path_used: list[bool]
) -> None:
    path = "audit/2026/10.jsonl"
    original = show(repo, path)
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    for _name, change in FORGED:
        rewrite(repo, path, _forging(change))
        found = verify(source())
        assert not found.ok and found == walked(source)
        commit_log(repo, {path: original})
    assert fast_path_used == [False] * len(FORGED)


def test_an_archived_log_is_confirmed_by_the_workers(
    repo: GitRepo, fast_path_used: list[bool]
) -> None:
    done = repo.flaggate("audit", "archive", "--older-than", "0", "--at", "2026-12-31T00:00Z")
    assert done.code == 0, done.stderr
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    fast = verify(source())
    assert fast_path_used == [True]
    assert fast == walked(source) and fast.ok and fast.records == len(CHAINED)


# --- blobs read by the workers themselves ----------------------------------------------------

OCTOBER = "audit/2026/10.jsonl"


def loose_file(repo: GitRepo, path: str) -> tuple[str, Path]:
    """The blob id of ``path`` on the audit branch and the file git keeps it in, loose."""
    blob = repo.git("rev-parse", f"flaggate-audit:{path}").strip()
    return blob, repo.root / ".git" / "objects" / blob[:2] / blob[2:]


def read_loose(repo: GitRepo, path: str, stored: bytes | None = None) -> bytes:
    """``path`` as the workers read it, its loose object first replaced by ``stored``."""
    blob, where = loose_file(repo, path)
    size = len(show(repo, path))
    if stored is not None:
        where.chmod(0o644)
        where.write_bytes(stored)
    chunks = verify_fast.loose_blob(str(where.parent.parent), blob, size)
    assert chunks is not None
    return b"".join(chunks)


def test_a_loose_blob_reads_as_git_shows_it(repo: GitRepo) -> None:
    for path in month_files(CHAINED):
        assert read_loose(repo, path) == show(repo, path)
    objects = verify_fast.loose_objects(GitSource(Git(repo.root)))
    assert objects is not None and Path(objects).samefile(repo.root / ".git" / "objects")
    assert verify_fast.loose_objects(DirectorySource(repo.root)) is None


@pytest.mark.parametrize(
    "stored",
    [
        lambda data: zlib.compress(b"tree %d\0" % len(data) + data),
        lambda data: zlib.compress(b"blob %d\0" % (len(data) + 1) + data + b"\n"),
        lambda data: zlib.compress(b"blob %d\0" % len(data) + data + b"\n"),
        lambda data: zlib.compress(b"blob %d\0" % len(data) + data[:-1]),
        lambda data: zlib.compress(b"blob %d\0" % len(data) + data) + b"\0",
        lambda data: zlib.compress(b"blob %d\0" % len(data) + data)[:-7],
        lambda data: zlib.compress(b"blob %d\0" % len(data) + data)[:-4],
        lambda data: b"blob %d\0" % len(data) + data,
    ],
    ids=[
        "a tree",
        "another size",
        "more",
        "less",
        "bytes after",
        "cut short",
        "no checksum",
        "not zlib",
    ],
)
def test_a_loose_object_that_is_not_the_listed_blob_is_refused(
    repo: GitRepo, stored: Callable[[bytes], bytes]
) -> None:
    data = show(repo, OCTOBER)
    with pytest.raises(verify_fast.NotAsListed):
        read_loose(repo, OCTOBER, stored(data))


def test_a_loose_object_larger_than_listed_is_refused_before_it_is_read(
    repo: GitRepo,
) -> None:
    data = show(repo, OCTOBER)
    bomb = zlib.compress(b"blob %d\0" % len(data) + data + b" " * (8 << 20))
    blob, where = loose_file(repo, OCTOBER)
    where.chmod(0o644)
    where.write_bytes(bomb)
    chunks = verify_fast.loose_blob(str(where.parent.parent), blob, len(data))
    assert chunks is not None
    with pytest.raises(verify_fast.NotAsListed):
        next(iter(chunks))


def test_a_corrupt_loose_object_is_left_to_the_walk(
    repo: GitRepo, fast_path_used: list[bool]
) -> None:
    _blob, where = loose_file(repo, OCTOBER)
    where.chmod(0o644)
    where.write_bytes(where.read_bytes()[:-7])
    with pytest.raises(GitError, match="cat-file ended early"):  # git cannot read it either
        verify(GitSource(Git(repo.root)))
    assert fast_path_used == [False]


def test_a_replaced_blob_is_read_as_git_shows_it(repo: GitRepo, fast_path_used: list[bool]) -> None:
    # `git replace` makes git show another blob in the place of the one listed: the loose
    # file of the listed one must not be what the workers confirm.
    blob, _where = loose_file(repo, OCTOBER)
    edited = show(repo, OCTOBER).replace(b'"login":"bob"', b'"login":"eve"', 1)
    other = git_bytes(repo, "hash-object", "-w", "--stdin", stdin=edited).decode().strip()
    repo.git("replace", blob, other)
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    assert verify_fast.loose_objects(source()) is None
    found = verify(source())
    assert fast_path_used == [False]
    assert not found.ok and found == walked(source)
    assert found.bad is not None and found.bad.reason == log.EDITED


def test_a_packed_log_is_confirmed_through_git(repo: GitRepo, fast_path_used: list[bool]) -> None:
    repo.git("gc", "--quiet", "--prune=now")
    assert not loose_file(repo, OCTOBER)[1].exists()
    source = lambda: GitSource(Git(repo.root))  # noqa: E731
    fast = verify(source())
    assert fast_path_used == [True]
    assert fast == walked(source) and fast.ok
