"""Verifying a large intact log on every core.

Hashing a million records is a few microseconds of Python each, one after the other. Here
each month file is checked in a worker process (forked: the log source is inherited, each
worker reads its own files): every line must have the exact shape the writer gives it and a
hash that holds (:func:`~flaggate.audit.log.intact_line`), and link to the line before it.
The main process then checks the links between files and that no id repeats.

This path only ever confirms an intact log. At the first thing it cannot vouch for (a line
that needs a parse, a broken link, a repeated id, a file that cannot be read, anything out
of place in the layout) it gives up, and :func:`~flaggate.audit.log.verify` walks the log
one line after the other, which finds and words every problem as before.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaggate.audit.record import GENESIS
from flaggate.forking import can_fork, fork_map

if TYPE_CHECKING:  # flaggate.audit.log imports this module when it verifies
    from flaggate.audit.log import LogFile, LogSource

PARALLEL_BYTES = 32 << 20
"""From this much stored log on (all files together, as git or the disk holds them)."""


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
    try:
        summaries = fork_map(_summarize, source, files, workers)
    except Exception:  # a worker that died proves nothing: the walk will say what is wrong
        return None
    expected = GENESIS.encode()
    seen: set[int] = set()
    records = 0
    first_line = last_line = b""
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
    if len(seen) != records:  # a repeated id (or two fingerprints that collide)
        return None
    return Intact(records, expected if records else None, first_line, last_line)


def _summarize(source: LogSource, file: LogFile) -> FileSummary | None:
    """The summary of one file; None at the first thing the fast path cannot vouch for."""
    from flaggate.audit.log import LogError, intact_line

    fingerprints = array("q")
    count = 0
    first_prev = last_hash = first_line = last_line = b""
    try:
        for _file, lines in source.read([file]):
            for batch in lines:
                for line in batch:
                    found = intact_line(line)
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
    except LogError:
        return None
    return FileSummary(count, first_prev, last_hash, first_line, last_line, fingerprints)
