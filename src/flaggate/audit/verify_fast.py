"""Verifying a large intact log on every core.

Each month file is checked in a worker process (forked: the log source is inherited, each
worker reads its own files): every line must be one :func:`~flaggate.audit.log.intact_line`
accepts (the exact shape the writer gives it, and a hash that holds) and link to the line
before it. The main process then checks the links between files and that no id repeats.

A line costs a few microseconds of Python, so the lines are checked a batch (a chunk's worth)
at a time: per line, only what needs its own position (finding its two hash members, hashing
the bytes the chain covers, cutting out its id); what is compared, is compared for the whole
batch at once (:func:`check_batch`).

This path only ever confirms an intact log. At the first thing it cannot vouch for (a line
that needs a parse, a broken link, a repeated id, a file that cannot be read, anything out
of place in the layout) it gives up, and :func:`~flaggate.audit.log.verify` walks the log
one line after the other, which finds and words every problem as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaggate.audit.record import GENESIS, MAX_RECORD
from flaggate.forking import can_fork, fork_imap

if TYPE_CHECKING:  # flaggate.audit.log imports this module when it verifies
    from flaggate.audit.log import LogFile, LogSource

PARALLEL_BYTES = 32 << 20
"""From this much stored log on (all files together, as git or the disk holds them)."""

_KEY = b'ash":"'
"""The end of both members the chain needs (``,"hash":"`` and ``,"prevHash":"``), and of any
other key ending in ``ash`` whose value is a string: an unescaped ``ash":"`` is always a key.
:func:`~flaggate.audit.log.intact_line` wants it exactly twice in a line."""

_HASH = ',"hash":"'
_ID = '","id":"'
_PREV = ',"prevHash":"'
_NEXT_HEAD = _ID + _HASH
_NEXT_LINK = '"' + _PREV
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class FileSummary:
    """One intact file: its lines, the first line's ``prevHash``, the last line's hash, its
    first and last lines, and a fingerprint of each line's id."""

    lines: int
    first_prev: bytes
    last_hash: bytes
    first_line: bytes
    last_line: bytes
    fingerprints: array[int]


@dataclass(frozen=True)
class Intact:
    """A log found intact: its records, hash of the last one, first and last lines."""

    records: int
    head: bytes | None
    first_line: bytes
    last_line: bytes


@dataclass(frozen=True)
class Batch:
    """Lines found intact and linked to one another: the first one's ``prevHash``, each
    one's hash (lowercase hex) and id."""

    first_prev: str
    hashes: list[str]
    ids: list[bytes]


def parallel_workers(sizes: Sequence[int | None]) -> int:
    """How many workers to check files of ``sizes`` bytes with: 0 when one process is the
    better choice (a small log, one core, no fork)."""
    known = [size for size in sizes if size is not None]
    if len(sizes) < 2 or len(known) != len(sizes) or sum(known) < PARALLEL_BYTES:
        return 0
    return min(os.cpu_count() or 1, len(sizes)) if can_fork() else 0


def check_intact(source: LogSource, files: Sequence[LogFile], workers: int) -> Intact | None:
    """The log of ``files`` (in chain order) when every line is intact and linked and no id
    repeats; None otherwise (or when a worker fails): the caller then walks the log."""
    expected = GENESIS.encode()
    seen: set[int] = set()
    records = 0
    first_line = last_line = b""
    # Each file is taken in as soon as it is checked: the ids of a million records take a
    # while to gather, better spent while the workers check the next files.
    with contextlib.closing(fork_imap(_summarize, source, files, workers)) as summaries:
        try:
            for summary in summaries:
                if summary is None:
                    return None
                if not summary.lines:
                    continue
                if summary.first_prev != expected:
                    return None
                expected = summary.last_hash
                seen.update(summary.fingerprints)
                records += summary.lines
                first_line = first_line or summary.first_line
                last_line = summary.last_line
        except Exception:  # a worker that died proves nothing: the walk will say what is wrong
            return None
    if len(seen) != records:  # a repeated id (or two fingerprints that collide)
        return None
    return Intact(records, expected if records else None, first_line, last_line)


def _summarize(source: LogSource, file: LogFile) -> FileSummary | None:
    """The summary of one file; None at the first thing the fast path cannot vouch for."""
    from flaggate.audit.log import LogError, gunzip

    reading = source.chunks([file])  # closed (what git has left to send skipped) when dropped
    try:
        _file, chunks = next(reading)
        return summarize(gunzip(chunks, file.path) if file.archived else chunks)
    except (LogError, StopIteration):
        return None


def summarize(chunks: Iterable[bytes]) -> FileSummary | None:
    """The summary of the file whose bytes are ``chunks``; None when a line is not one
    :func:`~flaggate.audit.log.intact_line` accepts, is longer than :data:`MAX_RECORD`, or
    does not link to the line before it, or when the last line has no newline."""
    fingerprints = array("q")
    rest = b""  # the start of a line whose end is not read yet
    first_prev = previous = None
    first_line = last_line = b""
    count = 0
    for chunk in chunks:
        lines = chunk.split(b"\n")
        lines[0] = rest + lines[0]
        rest = lines.pop()
        # Only the first line can be longer than the chunk it ends in.
        if len(rest) > MAX_RECORD or (lines and len(lines[0]) > MAX_RECORD):
            return None
        if not lines:
            continue
        if len(chunk) > MAX_RECORD and max(map(len, lines)) > MAX_RECORD:
            return None
        batch = check_batch(lines, previous)
        if batch is None:
            return None
        if first_prev is None:
            first_prev, first_line = batch.first_prev, lines[0]
        previous, last_line = batch.hashes[-1], lines[-1]
        count += len(lines)
        fingerprints.extend(map(hash, batch.ids))
    if rest:  # no newline at the end of the file
        return None
    if first_prev is None or previous is None:
        return FileSummary(0, b"", b"", b"", b"", fingerprints)
    return FileSummary(
        count,
        first_prev.encode("latin-1"),
        previous.encode(),
        first_line,
        last_line,
        fingerprints,
    )


def check_batch(lines: Sequence[bytes], previous: str | None) -> Batch | None:
    """``lines`` (at least one, without their newline) when each is one
    :func:`~flaggate.audit.log.intact_line` accepts and the first links to ``previous`` (any
    ``prevHash`` when None), each next one to the one before; None otherwise."""
    hashes: list[str] = []
    heads: list[bytes] = []
    links: list[bytes] = []
    ids: list[bytes] = []
    add_hash, add_head, add_link, add_id = hashes.append, heads.append, links.append, ids.append
    sha256 = _sha256
    for line in lines:
        # In a line intact_line accepts, `ash":"` ends `,"hash":"` at j + 6 and `,"prevHash":"`
        # at k + 6, and nowhere else.
        j = line.find(_KEY)
        k = line.find(_KEY, j + 6)
        if j < 3 or k < 0 or line.find(_KEY, k + 6) >= 0 or line[0] != 123 or line[-1] != 125:
            return None
        digest = sha256(line[: j - 3])  # the line without `,"hash":"<64 hex>"`
        digest.update(line[j + 71 :])
        add_hash(digest.hexdigest())
        add_head(line[j - 3 : j + 78])  # `,"hash":"<64 hex>","id":"`
        add_link(line[k - 7 : k + 71])  # `,"prevHash":"<64>"`
        add_id(line[j + 78 : line.find(b'"', j + 78)])
    if previous is None:  # the first line's own, of whatever shape: its link is checked below
        if len(links[0]) != 78:
            return None
        previous = links[0][13:77].decode("latin-1")
    # Each cut is at most as long as the text it must equal (81 and 78 bytes), so equal joins
    # mean equal cuts, line by line.
    if b"".join(heads) != f"{_HASH}{_NEXT_HEAD.join(hashes)}{_ID}".encode():
        return None
    linked = _NEXT_LINK.join([previous, *hashes[:-1]])
    if b"".join(links) != f'{_PREV}{linked}"'.encode("latin-1") or b"\\" in b"".join(ids):
        return None
    return Batch(previous, hashes, ids)
