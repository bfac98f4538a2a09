"""Appending audit records to the log in git: no checkout, safe under concurrent merges.

The log lives on a branch of the remote (default ``flaggate-audit``, an orphan branch created
on the first append) or, with ``Settings.spec.audit.path``, below that path on the default
branch; either way in ``<dir>/YYYY/MM.jsonl`` (see :mod:`flaggate.audit.log`).

One attempt: fetch the branch into a private ref, read the month files, skip the records
whose id is already in the log, chain the rest onto the log's last hash, build the new
blobs, tree and commit with plumbing (a temporary index, ``commit-tree``: the working tree,
the index and the local branches are never touched) and push that commit. The push is a
compare-and-swap: it is accepted only as a fast-forward of the tip the records were chained
onto. A rejected push (another merge appended first) starts the next attempt from the new
tip, after a short random pause; after ``attempts`` failures :class:`AuditAppendError` says
why. Nothing is ever dropped silently: an attempt writes all its records or none, and a
later call appends what is missing.

Without any remote the local branch is updated instead (``update-ref`` with the old value,
the same compare-and-swap).

A record goes to the file of its timestamp's month. One whose month is older than the log's
newest month (a late re-run around the turn of a month) goes to the newest month's file
instead, so that the chain still runs through the months in order.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flaggate.audit.record import GENESIS, MAX_RECORD, Record, chain, dumps, normalize
from flaggate.errors import FlaggateError, GitError
from flaggate.git import BOT_IDENTITY, BranchWriteError, Git, Planned, write_branch
from flaggate.model.settings import Audit

IDENTITY = BOT_IDENTITY
"""Author and committer of the audit commits."""

DEFAULT_BRANCH = "flaggate-audit"

_MONTH = re.compile(r"([0-9]{4})/([0-9]{2})\.jsonl")
_ARCHIVE = re.compile(r"archive/([0-9]{4})-([0-9]{2})\.jsonl\.gz")
_HASH = re.compile(r"[0-9a-f]{64}")

Month = tuple[int, int]


class AuditAppendError(FlaggateError):
    """The records could not be appended; nothing was dropped silently."""


@dataclass(frozen=True)
class AppendResult:
    """What an append did."""

    appended: int
    skipped: int
    """Records whose id was already in the log (or earlier in the same call)."""
    commit: str | None
    """The new commit, or None when nothing was appended."""
    attempts: int
    """Attempts used (0 when there was nothing to append)."""
    records: list[Record] = field(default_factory=list)
    """The appended records, chained (with ``prevHash`` and ``hash``), in log order."""


def append(
    git: Git,
    records: Sequence[Record],
    audit: Audit,
    *,
    message: str,
    remote: str = "origin",
    default_branch: str = "main",
    attempts: int = 5,
    identity: tuple[str, str] = IDENTITY,
    backoff: float = 0.5,
) -> AppendResult:
    """Append un-chained ``records`` (each with ``id`` and ``timestamp``) in the order given.

    Raises :class:`AuditAppendError` for a record without ``id`` or ISO-8601 ``timestamp``,
    one that JSON cannot hold (NaN, Infinity) and one whose line would be longer than
    :data:`~flaggate.audit.record.MAX_RECORD` (before any git command), for a log it cannot
    continue (a last line without a hash, a month stored twice) and after ``attempts`` failed
    fetches or pushes. ``backoff``: the pause before attempt ``n`` (from 2) is random, up to
    ``backoff * 2 ** (n - 2)`` seconds, so that racing writers spread out.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    months = [_month(record) for record in records]
    if not records:
        return AppendResult(0, 0, None, 0)
    branch = _branch(audit, default_branch)
    root = _root(audit)

    def plan(tip: str | None, _also: Mapping[str, str | None]) -> Planned[_Plan]:
        planned = _plan(git, tip, root, records, months)
        return Planned(planned.files if planned.new else {}, planned)

    try:
        written = write_branch(
            git,
            branch,
            plan,
            message=message,
            remote=remote,
            attempts=attempts,
            identity=identity,
            backoff=backoff,
        )
    except BranchWriteError as exc:
        raise AuditAppendError(
            f"could not append {len(records)} audit record(s) to {exc.tail}",
            "nothing was written by this run; re-run it: records already in the log are skipped",
        ) from None
    except GitError as exc:
        if exc.message.startswith("no git remote"):
            raise AuditAppendError(
                f"{exc.message}: the audit records cannot be appended", exc.hint
            ) from None
        raise
    done = written.value
    if written.commit is None:
        return AppendResult(0, done.skipped, None, written.attempts)
    return AppendResult(len(done.new), done.skipped, written.commit, written.attempts, done.new)


def _branch(audit: Audit, default_branch: str) -> str:
    name = default_branch if audit.path else (audit.branch or DEFAULT_BRANCH)
    return name.removeprefix("refs/heads/")


def _root(audit: Audit) -> str:
    """The log's directory in the tree ('' for the top)."""
    parts = [audit.path or "", audit.dir]
    return "/".join(p.strip("/") for p in parts if p.strip("/") not in ("", "."))


def _month(record: Record) -> Month:
    """The UTC month of a record's timestamp (validating the record on the way: readers must
    be able to read its line)."""
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise AuditAppendError(f"an audit record has no id: {dumps(record)[:200]}")
    stamp = record.get("timestamp")
    try:
        if not isinstance(stamp, str):
            raise ValueError(stamp)
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: before year 1 in UTC
        raise AuditAppendError(
            f"audit record {ident} has no ISO-8601 timestamp: {stamp!r}"
        ) from None
    try:  # the line as chain() will write it (both hashes are 64 characters)
        line = dumps(normalize({**record, "prevHash": GENESIS, "hash": GENESIS})).encode()
    except (ValueError, RecursionError) as exc:
        raise AuditAppendError(f"audit record {ident} cannot be written as JSON: {exc}") from None
    if len(line) > MAX_RECORD:
        raise AuditAppendError(
            f"audit record {ident} would be a line of {len(line)} bytes, longer than the "
            f"{MAX_RECORD >> 20} MiB `flaggate audit` reads",
            "nothing was written by this run",
        )
    return (moment.year, moment.month)


# --- reading the log at a tip ----------------------------------------------------------------


@dataclass
class _File:
    path: str
    blob: str | None
    archived: bool
    lines: list[bytes] | None = None
    changed: bool = False


@dataclass
class _Plan:
    new: list[Record]
    skipped: int
    files: dict[str, bytes]


def _log_files(git: Git, tip: str, root: str) -> dict[Month, _File]:
    prefix = f"{root}/" if root else ""
    found: dict[Month, _File] = {}
    for blob, path in git.tree(tip, [root] if root else []):
        relative = path.removeprefix(prefix)
        live = _MONTH.fullmatch(relative)
        match = live or _ARCHIVE.fullmatch(relative)
        if match is None or not path.startswith(prefix):
            continue
        month = (int(match.group(1)), int(match.group(2)))
        if not 1 <= month[1] <= 12:
            continue
        if month in found:
            raise AuditAppendError(
                f"the audit log stores {month[0]}-{month[1]:02d} twice: "
                f"{found[month].path} and {path}",
                "keep one of them (flaggate audit verify)",
            )
        found[month] = _File(path, blob, live is None)
    return found


def _load(git: Git, files: Sequence[_File]) -> None:
    """Read the lines of ``files`` (one ``cat-file`` for all)."""
    wanted = [f for f in files if f.lines is None and f.blob is not None]
    if not wanted:
        return
    contents = git.read_blobs([f.blob for f in wanted if f.blob], 1 << 62)
    for file in wanted:
        assert file.blob is not None
        data = bytes(contents[file.blob])  # never an int: no size limit
        if file.archived:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise AuditAppendError(f"{file.path}: corrupt archive: {exc}") from None
        # Split on "\n" only: the JSON of a record never holds a raw newline.
        file.lines = [line for line in data.split(b"\n") if line.strip()]


def _ids(file: _File) -> set[str]:
    """The ids in a file; an unreadable line is left to `audit verify`."""
    ids = set()
    for line in file.lines or ():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.add(record["id"])
    return ids


def _last_hash(git: Git, files: dict[Month, _File]) -> str:
    """The hash of the log's last record: the newest month (file or archive) with a record."""
    for month in sorted(files, reverse=True):
        file = files[month]
        _load(git, [file])
        if not file.lines:
            continue
        try:
            last = json.loads(file.lines[-1])
        except (ValueError, RecursionError):
            last = None
        value = last.get("hash") if isinstance(last, dict) else None
        if not isinstance(value, str) or not _HASH.fullmatch(value):
            raise AuditAppendError(
                f"{file.path}:{len(file.lines)}: the log's last record has no valid hash to "
                "chain onto",
                "repair the log (flaggate audit verify shows where it breaks)",
            )
        return value
    return GENESIS


def _plan(
    git: Git, tip: str | None, root: str, records: Sequence[Record], months: list[Month]
) -> _Plan:
    """The records still missing, chained onto the log's last hash, and the files to write."""
    files = _log_files(git, tip, root) if tip else {}
    # A record can only be in its own month or a later one: read those (usually one file).
    earliest = min(months)
    _load(git, [files[m] for m in sorted(files) if m >= earliest])
    previous = _last_hash(git, files)
    known: set[str] = set()
    for month in files:
        if month >= earliest:
            known |= _ids(files[month])
    newest = max(files) if files else None
    pending: list[tuple[Record, Month]] = []
    for record, month in zip(records, months, strict=True):
        if record["id"] in known:
            continue
        known.add(record["id"])
        target = month if newest is None or month > newest else newest
        newest = target
        pending.append((record, target))
    linked = list(chain((record for record, _ in pending), previous))
    for record, (_, month) in zip(linked, pending, strict=True):
        file = files.get(month)
        if file is None:
            path = f"{root}/{month[0]:04d}/{month[1]:02d}.jsonl".lstrip("/")
            file = files[month] = _File(path, None, False, [])
        assert file.lines is not None
        file.lines.append(dumps(record).encode())
        file.changed = True
    out = {}
    for file in files.values():
        if file.changed:
            assert file.lines is not None
            data = b"".join(line + b"\n" for line in file.lines)
            # An archive stays the gzip of its exact month file (as `audit archive` writes it).
            out[file.path] = gzip.compress(data, 6, mtime=0) if file.archived else data
    return _Plan(linked, len(records) - len(linked), out)
