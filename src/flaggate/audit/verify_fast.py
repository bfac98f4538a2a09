"""Verifying a large intact log on every core.

Each month file is checked in a worker process (forked: the log source is inherited, each
worker reads its own files): every line must be one :func:`~flaggate.audit.log.intact_line`
accepts (the exact shape the writer gives it, and a hash that holds) and link to the line
before it. The main process then checks the links between files and that no id repeats.

A line costs a few microseconds of Python, so the lines are checked a batch (a chunk's worth)
at a time: per line, only what needs its own position (finding its two hash members, hashing
the bytes the chain covers, cutting out its id); what is compared, is compared for the whole
batch at once (:func:`check_batch`). A blob git keeps loose (one zlib file per object, as it
is written) is read and inflated by the worker itself rather than sent through a pipe by
``git cat-file``; any other is asked of git.

This path only ever confirms an intact log. At the first thing it cannot vouch for (a line
that needs a parse, a broken link, a repeated id, a file that cannot be read, anything out
of place in the layout) it gives up, and :func:`~flaggate.audit.log.verify` walks the log
one line after the other, which finds and words every problem as before.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import os
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

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

_HASH = b',"hash":"'
_ID = b'","id":"'
_PREV = b',"prevHash":"'
_NEXT_HEAD = _ID + _HASH
_NEXT_LINK = b'"' + _PREV
_SHA256 = hashlib.sha256()
"""Copied for each line: cheaper than a new hash object each time."""

_PIECE = 1 << 17
"""Bytes of a loose object read at a time (about a chunk once inflated)."""
_CHUNK = 1 << 20
"""The most bytes inflated at a time."""


class NotAsListed(Exception):
    """A loose object that does not read as the blob git lists (another type or size, a
    corrupt zlib stream)."""


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
    """Lines found intact and linked to one another: the first one's ``prevHash``, the last
    one's hash (lowercase hex), and each one's id."""

    first_prev: bytes
    last_hash: bytes
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
    shared = (source, loose_objects(source))
    items = list(zip(files, source.sizes(files), strict=True))
    # Each file is taken in as soon as it is checked: the ids of a million records take a
    # while to gather, better spent while the workers check the next files.
    with contextlib.closing(fork_imap(_summarize, shared, items, workers)) as summaries:
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


def loose_objects(source: LogSource) -> str | None:
    """The directory of a git source's loose objects, when a blob read there is the one git
    shows (no object is replaced: an id names the same contents wherever git keeps them);
    None otherwise, or for a directory source."""
    from flaggate.audit.log import GitSource
    from flaggate.errors import GitError

    if not isinstance(source, GitSource) or "GIT_REPLACE_REF_BASE" in os.environ:
        return None
    try:
        if source.git.run(["for-each-ref", "--count=1", "refs/replace/"]).strip():
            return None
        found = source.git.run(["rev-parse", "--git-path", "objects"]).strip()
    except GitError:
        return None
    return os.path.join(source.git.root, os.fsdecode(found))


def _summarize(
    shared: tuple[LogSource, str | None], item: tuple[LogFile, int | None]
) -> FileSummary | None:
    """The summary of one file; None at the first thing the fast path cannot vouch for."""
    from flaggate.audit.log import LogError, gunzip

    (source, objects), (file, size) = shared, item
    try:
        chunks = loose_blob(objects, file.blob, size) if objects and file.blob else None
        if chunks is None:
            reading = source.chunks([file])  # closed (what git has left skipped) when dropped
            _file, chunks = next(reading)
        return summarize(gunzip(chunks, file.path) if file.archived else chunks)
    except (LogError, StopIteration, NotAsListed, OSError):
        return None


def loose_blob(objects: str, blob: str, size: int | None) -> Iterator[bytes] | None:
    """The contents of ``blob`` (of ``size`` bytes) in chunks when git keeps it loose in
    ``objects`` (a file of zlib data: ``blob <size>``, a zero byte, the contents); None when
    it does not. Reading raises :class:`NotAsListed` when the file holds anything else."""
    if size is None:
        return None
    try:
        stream = open(os.path.join(objects, blob[:2], blob[2:]), "rb")  # noqa: SIM115
    except OSError:
        return None
    return _contents(stream, b"blob %d\0" % size, size)


def _contents(stream: IO[bytes], header: bytes, size: int) -> Iterator[bytes]:
    with stream:
        for data in _inflated(stream):
            if header:
                start = data[: len(header)]
                if not header.startswith(start):
                    raise NotAsListed
                header, data = header[len(start) :], data[len(start) :]
            size -= len(data)
            if size < 0:
                raise NotAsListed
            if data:
                yield data
    if header or size:
        raise NotAsListed


def _inflated(stream: IO[bytes]) -> Iterator[bytes]:
    """One zlib stream, at most :data:`_CHUNK` bytes at a time; raises :class:`NotAsListed`
    when it is corrupt, cut short or followed by anything."""
    inflate = zlib.decompressobj()
    try:
        while piece := stream.read(_PIECE):
            if inflate.eof:
                raise NotAsListed
            while True:
                out = inflate.decompress(piece, _CHUNK)
                if out:
                    yield out
                piece = inflate.unconsumed_tail
                if inflate.eof or (not piece and len(out) < _CHUNK):
                    break
            if inflate.unused_data:
                raise NotAsListed
    except zlib.error:
        raise NotAsListed from None
    if not inflate.eof:
        raise NotAsListed


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
        previous, last_line = batch.last_hash, lines[-1]
        count += len(lines)
        fingerprints.extend(map(hash, batch.ids))
    if rest:  # no newline at the end of the file
        return None
    if first_prev is None or previous is None:
        return FileSummary(0, b"", b"", b"", b"", fingerprints)
    return FileSummary(count, first_prev, previous, first_line, last_line, fingerprints)


def check_batch(lines: Sequence[bytes], previous: bytes | None) -> Batch | None:
    """``lines`` (at least one, without their newline) when each is one
    :func:`~flaggate.audit.log.intact_line` accepts and the first links to ``previous`` (any
    ``prevHash`` when None), each next one to the one before; None otherwise."""
    digests: list[bytes] = []
    heads: list[bytes] = []
    links: list[bytes] = []
    ids: list[bytes] = []
    add_digest, add_head, add_link, add_id = digests.append, heads.append, links.append, ids.append
    new_hash = _SHA256.copy
    for line in lines:
        # In a line intact_line accepts, `ash":"` ends `,"hash":"` at j + 6 and `,"prevHash":"`
        # at k + 6, and nowhere else.
        j = line.find(_KEY)
        k = line.find(_KEY, j + 6)
        if j < 3 or k < 0 or line.find(_KEY, k + 6) >= 0 or line[0] != 123 or line[-1] != 125:
            return None
        digest = new_hash()
        digest.update(line[: j - 3])  # the line without `,"hash":"<64 hex>"`
        digest.update(line[j + 71 :])
        add_digest(digest.digest())
        add_head(line[j - 3 : j + 78])  # `,"hash":"<64 hex>","id":"`
        add_link(line[k - 7 : k + 71])  # `,"prevHash":"<64>"`
        add_id(line[j + 78 : line.find(b'"', j + 78)])  # the links say there is a quote
    if previous is None:  # the first line's own, of whatever shape: its link is checked below
        if len(links[0]) != 78:
            return None
        previous = links[0][13:77]
    hashes = binascii.hexlify(b"".join(digests), b",", 32)  # every hash, a comma between two
    # Each cut is at most as long as the text it must equal (81 and 78 bytes), so equal joins
    # mean equal cuts, line by line.
    if b"".join(heads) != b"".join((_HASH, hashes.replace(b",", _NEXT_HEAD), _ID)):
        return None
    linked = b"".join((_PREV, previous, b'"'))
    if len(lines) > 1:  # each next line links to the one before
        linked += b"".join((_PREV, hashes[:-65].replace(b",", _NEXT_LINK), b'"'))
    if b"".join(links) != linked or b"\\" in b"".join(ids):
        return None
    return Batch(previous, hashes[-64:], ids)
