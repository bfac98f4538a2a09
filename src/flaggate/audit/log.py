"""Reading the audit log: a streaming reader over git or a directory, the chain check,
filters and exports.

Layout, below ``<dir>`` (default ``audit``) on the audit branch or in a directory: one JSON
Lines file per month, ``YYYY/MM.jsonl`` (one record per line, :func:`record.dumps`), and
archived months ``archive/YYYY-MM.jsonl.gz`` (gzip of the exact month file) read in the place
of the month they replace. The chain runs through every month in order, from ``GENESIS``.

The reader streams: one ``git ls-tree`` for the file list, one ``git cat-file --batch`` for
the contents, read in chunks and split into lines (archives decompressed on the fly), so its
memory does not grow with the log. :func:`verify` also keeps one fingerprint per record id,
to find duplicates.

Checking a hash without parsing: a line written by :func:`record.dumps` is the record's
canonical JSON with the ``"hash"`` member in its sorted place (after ``eventType``, before
``id``), so the bytes the hash covers are the line without that member. When a line has that
shape and those bytes hash to the stored hash, the check is the one :func:`record.record_hash`
would make if the line is canonical; any other line (an edit, another formatting, a nested
``hash`` key) is parsed and checked with :func:`record.record_hash`, as anyone would. The two
can differ only for a line whose hash someone computed over its own non-canonical bytes;
``full=True`` parses every line and catches that too.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flaggate.audit.record import GENESIS, Record, record_hash
from flaggate.errors import FlaggateError, GitError, UsageError
from flaggate.git import Git

BRANCH = "flaggate-audit"
"""The default audit branch (``Settings.spec.audit.branch``)."""

CHUNK = 1 << 20
"""Bytes read (or decompressed) at a time."""

PIPE_SIZE = 1 << 20

_MONTH = re.compile(r"([0-9]{4})/([0-9]{2})\.jsonl")
_ARCHIVE = re.compile(r"archive/([0-9]{4})-([0-9]{2})\.jsonl\.gz")
_TEXT_ID = re.compile(rb'"hash":"[0-9a-f]{64}","id":"([^"\\]{1,200})"')
_STAMP = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_sha256 = hashlib.sha256


class LogError(FlaggateError):
    """The log cannot be read as a log: a corrupt archive, a month stored twice."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class LogFile:
    """One month of the log: a JSON Lines file, or its gzip archive."""

    path: str
    """Where it is, as shown in messages (``audit/2026/11.jsonl``)."""
    year: int
    month: int
    archived: bool
    blob: str | None = None
    """The git blob id (git sources only)."""

    @property
    def key(self) -> tuple[int, int]:
        return (self.year, self.month)


Batches = Iterator[list[bytes]]
"""A file's lines, without their newline, a chunk's worth at a time (cheaper to loop over
than one generator step per line)."""


class LogSource:
    """Where the log is read from: its files in chain order, and their lines."""

    description = "audit log"

    def files(self) -> list[LogFile]:
        """Every month, oldest first (raises :class:`LogError` for a month stored twice)."""
        raise NotImplementedError

    def chunks(self, files: Sequence[LogFile]) -> Iterator[tuple[LogFile, Iterator[bytes]]]:
        """Each file's stored bytes (compressed for an archive), in chunks; a file's chunks
        must be read before the next file is asked for (what is left is skipped)."""
        raise NotImplementedError

    def read(self, files: Sequence[LogFile] | None = None) -> Iterator[tuple[LogFile, Batches]]:
        """Each file with its lines (archives decompressed), in chain order."""
        for file, chunks in self.chunks(self.files() if files is None else files):
            data = gunzip(chunks, file.path) if file.archived else chunks
            yield file, _split_lines(data)


def _month_files(entries: Iterable[tuple[str, str, str | None]]) -> list[LogFile]:
    """``(path relative to <dir>, shown path, blob)`` -> the month files, in order."""
    months: dict[tuple[int, int], LogFile] = {}
    for relative, shown, blob in entries:
        live = _MONTH.fullmatch(relative)
        found = live or _ARCHIVE.fullmatch(relative)
        if found is None:
            continue
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12:
            continue
        file = LogFile(shown, year, month, live is None, blob)
        other = months.get(file.key)
        if other is not None:
            raise LogError(shown, f"{year}-{month:02d} is also stored in {other.path}")
        months[file.key] = file
    return [months[key] for key in sorted(months)]


def _normal_dir(directory: str) -> str:
    return directory.strip("/") if directory.strip("/") not in ("", ".") else ""


class DirectorySource(LogSource):
    """The log in a plain directory: ``<root>/<dir>/YYYY/MM.jsonl`` (a checkout)."""

    def __init__(self, root: Path, directory: str = "audit") -> None:
        self.root = root
        self.directory = _normal_dir(directory)
        self.base = root / self.directory if self.directory else root
        self.description = f"directory {self.base}"

    def files(self) -> list[LogFile]:
        if not self.base.is_dir():
            raise UsageError(f"no audit log in {self.base}: not a directory")
        entries = []
        for path in sorted(self.base.rglob("*")):
            if path.is_file():
                relative = path.relative_to(self.base).as_posix()
                entries.append((relative, str(path), None))
        return _month_files(entries)

    def chunks(self, files: Sequence[LogFile]) -> Iterator[tuple[LogFile, Iterator[bytes]]]:
        for file in files:
            try:
                with open(file.path, "rb") as stream:
                    data = file_chunks(stream)
                    yield file, data
                    for _ in data:  # what the reader left
                        pass
            except OSError as exc:
                raise LogError(file.path, f"cannot read: {exc.strerror or exc}") from None


def file_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """A stream's bytes in chunks."""
    while chunk := stream.read(CHUNK):
        yield chunk


class GitSource(LogSource):
    """The log on a git ref (default: the local audit branch, else ``origin/<branch>``)."""

    def __init__(self, git: Git, ref: str | None = None, directory: str = "audit") -> None:
        self.git = git
        self.directory = _normal_dir(directory)
        self.ref, self.commit = resolve_log_ref(git, ref)
        self.description = f"{self.ref} at {self.commit[:12]}"

    def files(self) -> list[LogFile]:
        prefix = f"{self.directory}/" if self.directory else ""
        paths = [self.directory] if self.directory else []
        entries = [
            (path[len(prefix) :], path, blob)
            for blob, path in self.git.tree(self.commit, paths)
            if path.startswith(prefix)
        ]
        return _month_files(entries)

    def chunks(self, files: Sequence[LogFile]) -> Iterator[tuple[LogFile, Iterator[bytes]]]:
        if not files:
            return
        proc = self.git._cat_file_batch()
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        _widen_pipe(stdout)
        try:
            for file in files:
                stdin.write(f"{file.blob}\n".encode())
                stdin.flush()
                header = stdout.readline().split()
                if len(header) < 3 or header[1] != b"blob":
                    raise GitError(f"{file.path}: blob {file.blob} is missing from the repository")
                data = _blob_chunks(stdout, int(header[2]))
                yield file, data
                for _ in data:  # what the reader left
                    pass
        finally:
            stdin.close()
            stdout.close()
            proc.wait()


def _widen_pipe(stream: IO[bytes]) -> None:
    """Let git run a chunk ahead of the reader (Linux pipes hold 64 KiB by default)."""
    if sys.platform == "linux":
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _blob_chunks(stream: IO[bytes], size: int) -> Iterator[bytes]:
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, CHUNK))
        if not chunk:
            raise GitError("git cat-file ended early")
        remaining -= len(chunk)
        yield chunk
    stream.read(1)  # the newline after the contents


def resolve_log_ref(git: Git, ref: str | None, branch: str = BRANCH) -> tuple[str, str]:
    """``(name, commit)`` of ``ref``, or of the local audit branch, else its ``origin`` copy."""
    if ref is not None:
        return ref, git.resolve(ref)
    local, remote = f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"
    out = git.run(["for-each-ref", "--format=%(refname) %(objectname)", local, remote])
    found = dict(line.split(" ", 1) for line in out.decode().splitlines() if " " in line)
    for name, shown in ((local, branch), (remote, f"origin/{branch}")):
        if name in found:
            return shown, found[name]
    raise GitError(
        f"no audit branch: neither {branch} nor origin/{branch} exists",
        f"git fetch origin {branch}, or pass --ref or --path",
    )


def _split_lines(chunks: Iterable[bytes]) -> Batches:
    rest = b""
    for chunk in chunks:
        parts = chunk.split(b"\n")
        if rest:
            parts[0] = rest + parts[0]
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def gunzip(chunks: Iterable[bytes], path: str) -> Iterator[bytes]:
    """Decompress gzip data (several members allowed) at most a chunk at a time."""
    inflate = zlib.decompressobj(wbits=31)
    started = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if inflate.eof:  # what follows a member is another member
                    inflate = zlib.decompressobj(wbits=31)
                started = True
                while True:
                    out = inflate.decompress(data, CHUNK)
                    if out:
                        yield out
                    if inflate.eof:
                        data = inflate.unused_data
                        break
                    data = inflate.unconsumed_tail
                    if not data and len(out) < CHUNK:  # else zlib may hold more output
                        break
        if started and not inflate.eof:
            raise LogError(path, "corrupt archive: the gzip data is truncated")
    except zlib.error as exc:
        raise LogError(path, f"corrupt archive: {exc}") from None


# --- verifying the chain ---------------------------------------------------------------------


@dataclass(frozen=True)
class BadRecord:
    """The first record that breaks the log, where it is and why."""

    path: str
    line: int | None
    id: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        record = f"record {self.id}: " if self.id else ""
        return f"{where}: {record}{self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: the records read, and the first bad one if any."""

    records: int
    files: int
    first: str | None = None
    """Timestamp of the first record."""
    last: str | None = None
    """Timestamp of the last record."""
    head: str | None = None
    """Hash of the last record: the value the next record's ``prevHash`` must hold."""
    bad: BadRecord | None = None

    @property
    def ok(self) -> bool:
        return self.bad is None


DELETED = "prevHash does not match the previous record (a record was deleted or reordered)"
NOT_FIRST = "prevHash is not the genesis value (records before it were deleted)"
EDITED = "hash mismatch (edited)"
GARBLED = "invalid JSON (truncated or garbled line)"


def _inspect(line: bytes, full: bool) -> tuple[bytes, bytes, bytes | None, str | None]:
    """``(hash, prevHash, id, problem)`` of one line; ``problem`` is None when its hash holds."""
    if not full:
        # The shape record.dumps writes: `,"hash":"<64 hex>","id":"…"`, later
        # `,"prevHash":"<64 hex>"`, and no other string member whose key ends in "ash" (an
        # unescaped `ash":"` is always a key), so both are the top-level members.
        i = line.rfind(b',"hash":"')
        if i > 0 and line[i + 73 : i + 81] == b'","id":"':
            stored = line[i + 9 : i + 73]
            digest = _sha256(line[:i])
            digest.update(line[i + 74 :])
            if digest.hexdigest().encode() == stored:
                p = line.rfind(b',"prevHash":"')
                end = line.find(b'"', i + 81)
                ident = line[i + 81 : end]
                if (
                    p > i
                    and line[p + 77 : p + 78] == b'"'
                    and end > 0
                    and b"\\" not in ident
                    and line.count(b'ash":"') == 2
                ):
                    return stored, line[p + 13 : p + 77], ident, None
    return _inspect_parsed(line)


def _inspect_parsed(line: bytes) -> tuple[bytes, bytes, bytes | None, str | None]:
    if not line.strip():
        return b"", b"", None, "empty line (a record was removed)"
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        found = _TEXT_ID.search(line)
        return b"", b"", found.group(1) if found else None, GARBLED
    if not isinstance(record, dict):
        return b"", b"", None, "not a record: not a JSON object"
    ident = record.get("id")
    ident_bytes = ident.encode() if isinstance(ident, str) else None
    for key in ("id", "prevHash", "hash"):
        if not isinstance(record.get(key), str):
            return b"", b"", ident_bytes, f"not a record: no `{key}` string"
    if record_hash(record) != record["hash"]:
        return b"", b"", ident_bytes, EDITED
    return record["hash"].encode(), record["prevHash"].encode(), ident_bytes, None


def verify(source: LogSource, full: bool = False) -> VerifyResult:
    """Check every record's hash, the ``prevHash`` links from ``GENESIS``, and that no id
    appears twice; stop at the first bad record."""
    try:
        files = source.files()
    except LogError as exc:
        return VerifyResult(0, 0, bad=BadRecord(exc.path, exc.line, None, exc.reason))
    walk = _Walk()
    try:
        walk.run(source, files, full)
    except LogError as exc:
        walk.bad = BadRecord(exc.path, exc.line, None, exc.reason)
    bad, index = walk.bad, walk.index
    if walk.suspects:
        duplicate = _first_duplicate(source, files, walk.suspects, full)
        if duplicate is not None and (
            bad is None
            or duplicate[0] < index
            or (duplicate[0] == index and bad.reason in (DELETED, NOT_FIRST))
        ):
            bad = duplicate[1]
    if bad is not None:
        return VerifyResult(index, len(files), bad=bad)
    return VerifyResult(
        index,
        len(files),
        first=_timestamp(walk.first_line),
        last=_timestamp(walk.last_line),
        head=walk.expected.decode() if index else None,
    )


class _Walk:
    """One pass over the log, up to the first bad record."""

    def __init__(self) -> None:
        self.expected = GENESIS.encode()
        self.index = 0
        """Records read before the first bad one (the bad one's index)."""
        self.seen: set[int] = set()
        self.suspects: dict[int, int] = {}
        """Index -> fingerprint of a record whose id fingerprint was seen before."""
        self.first_line = self.last_line = b""
        self.bad: BadRecord | None = None

    def run(self, source: LogSource, files: Sequence[LogFile], full: bool) -> None:
        expected, index, seen, suspects = self.expected, 0, self.seen, self.suspects
        inspect = _inspect
        try:
            for file, batches in source.read(files):
                number = 0
                for batch in batches:
                    for line in batch:
                        number += 1
                        stored, prev, ident, problem = inspect(line, full)
                        if ident is not None:
                            fingerprint = hash(ident)
                            if fingerprint in seen:
                                suspects[index] = fingerprint
                            else:
                                seen.add(fingerprint)
                        if problem is None and prev != expected:
                            problem = NOT_FIRST if index == 0 else DELETED
                        if problem is not None:
                            shown = ident.decode(errors="replace") if ident is not None else None
                            self.bad = BadRecord(file.path, number, shown, problem)
                            return
                        if index == 0:
                            self.first_line = line
                        self.last_line = line
                        expected = stored
                        index += 1
        finally:
            self.expected, self.index = expected, index


def _first_duplicate(
    source: LogSource, files: Sequence[LogFile], suspects: dict[int, int], full: bool
) -> tuple[int, BadRecord] | None:
    """Read the log again up to the last suspect: the first record whose id really is an
    earlier record's (fingerprints can collide)."""
    wanted = set(suspects.values())
    until = max(suspects)
    first_at: dict[bytes, str] = {}
    index = 0
    for file, batches in source.read(files):
        number = 0
        for batch in batches:
            for line in batch:
                number += 1
                if index > until:
                    return None
                ident = _inspect(line, full)[2]
                if ident is not None and hash(ident) in wanted:
                    if ident in first_at:
                        reason = f"duplicate id (first at {first_at[ident]})"
                        return index, BadRecord(file.path, number, ident.decode(), reason)
                    first_at[ident] = f"{file.path}:{number}"
                index += 1
    return None


def _timestamp(line: bytes) -> str | None:
    try:
        value = json.loads(line).get("timestamp")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# --- filters ---------------------------------------------------------------------------------


def parse_moment(text: str, option: str, end: bool = False) -> datetime:
    """``YYYY-MM-DD``, ``YYYY-MM`` or an ISO 8601 time (UTC when it has no offset), in UTC;
    with ``end``, a date or month means its last microsecond."""
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
            year, month = int(text[:4]), int(text[5:])
            start = datetime(year, month, 1, tzinfo=UTC)
            following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            return following - timedelta(microseconds=1) if end else start
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            start = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return start + timedelta(days=1, microseconds=-1) if end else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: use YYYY-MM-DD, YYYY-MM or an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _second(moment: datetime, up: bool) -> bytes:
    """The record-timestamp text of ``moment`` rounded to a whole second."""
    if up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()


def _needles(values: Iterable[Any]) -> tuple[bytes, ...]:
    """How a value appears in a line: canonical JSON (and its ASCII-escaped form)."""
    found: list[bytes] = []
    for value in values:
        for ascii_only in (False, True):
            text = json.dumps(value, ensure_ascii=ascii_only).encode()
            if text not in found:
                found.append(text)
    return tuple(found)


@dataclass(frozen=True)
class Filter:
    """Which records a query keeps: every given criterion holds (repeated values: any)."""

    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    tickets: tuple[str, ...] = ()
    pulls: tuple[int, ...] = ()
    _groups: tuple[tuple[bytes, ...], ...] = field(init=False, repr=False, compare=False)
    _low: bytes | None = field(init=False, repr=False, compare=False)
    _high: bytes | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        groups = [
            _needles(values)
            for values in (
                self.types,
                self.actors,
                self.flags,
                self.resources,
                self.environments,
                self.tickets,
                self.pulls,
            )
            if values
        ]
        object.__setattr__(self, "_groups", tuple(groups))
        low = _second(self.since, up=True) if self.since is not None else None
        high = _second(self.until, up=False) if self.until is not None else None
        object.__setattr__(self, "_low", low)
        object.__setattr__(self, "_high", high)

    def may_match(self, line: bytes) -> bool:
        """False only when the line's record cannot match (a fast test on the bytes)."""
        for needles in self._groups:
            for needle in needles:
                if needle in line:
                    break
            else:
                return False
        low, high = self._low, self._high
        # A canonical line ends with its top-level timestamp: `,"timestamp":"…Z"}`.
        if (low or high) and line[-35:-22] == b'"timestamp":"' and line[-2:] == b'"}':
            stamp = line[-22:-2]
            if _STAMP.fullmatch(stamp):
                if low is not None and stamp < low:
                    return False
                if high is not None and stamp > high:
                    return False
        return True

    def matches(self, record: Record) -> bool:
        """Whether the parsed record matches every criterion."""
        actor, resource = _object(record, "actor"), _object(record, "resource")
        context = _object(record, "context")
        checks: tuple[tuple[tuple[Any, ...], Any], ...] = (
            (self.types, record.get("eventType")),
            (self.actors, actor.get("login")),
            (self.resources, resource.get("id")),
            (self.environments, resource.get("environment")),
            (self.tickets, context.get("ticketId")),
            (self.pulls, context.get("pullRequest")),
        )
        for wanted, value in checks:
            if wanted and (value not in wanted or isinstance(value, bool)):
                return False
        if self.flags and (resource.get("type") != "flag" or resource.get("id") not in self.flags):
            return False
        if self.since is not None or self.until is not None:
            moment = _record_time(record)
            if moment is None:
                return False
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        return True


def _object(record: Record, key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _record_time(record: Record) -> datetime | None:
    value = record.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Match:
    """A record a query kept, its stored line, and where it is."""

    path: str
    line: int
    raw: bytes
    record: Record


def query(
    source: LogSource, where: Filter, warn: Callable[[str], None] | None = None
) -> Iterator[Match]:
    """The records that match, in log order; a line that is not a JSON object is skipped
    (and reported to ``warn``)."""
    may_match, matches, loads = where.may_match, where.matches, json.loads
    for file, batches in source.read():
        number = 0
        for batch in batches:
            for line in batch:
                number += 1
                if not may_match(line):
                    continue
                try:
                    record = loads(line)
                except (ValueError, RecursionError):
                    record = None
                if not isinstance(record, dict):
                    if warn is not None and line.strip():
                        warn(f"{file.path}:{number}: not a JSON record, skipped")
                    continue
                if matches(record):
                    yield Match(file.path, number, line, record)


# --- exports ---------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "timestamp",
    "eventType",
    "actor.login",
    "actor.id",
    "actor.name",
    "actor.email",
    "resource.type",
    "resource.id",
    "resource.name",
    "resource.environment",
    "action.type",
    "action.previousState",
    "action.newState",
    "action.metadata",
    "context.repository",
    "context.pullRequest",
    "context.mergeSha",
    "context.mergedBy",
    "context.ticketId",
    "context.incidentId",
    "context.approvalWorkflowId",
    "outcome.success",
    "outcome.errorCode",
    "outcome.errorMessage",
    "prevHash",
    "hash",
    "extra",
)
"""The CSV header: nested fields as dotted names; ``extra`` holds any other field as JSON."""

_NESTED = {"actor", "resource", "action", "context", "outcome"}
_KNOWN = frozenset(CSV_COLUMNS)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def csv_row(record: Record) -> list[str]:
    """One CSV row of :data:`CSV_COLUMNS` (objects and lists as JSON text)."""
    flat: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in record.items():
        if key in _NESTED and isinstance(value, dict):
            for inner, item in value.items():
                name = f"{key}.{inner}"
                (flat if name in _KNOWN else extra)[name] = item
        elif key in _KNOWN and key not in _NESTED and key != "extra":
            flat[key] = value
        else:
            extra[key] = value
    if extra:
        flat["extra"] = extra
    return [_cell(flat.get(column)) for column in CSV_COLUMNS]


def write_csv(matches: Iterable[Match], out: IO[str]) -> int:
    """The header and one row per record; returns the number of records."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for match in matches:
        writer.writerow(csv_row(match.record))
        count += 1
    return count


def write_json(matches: Iterable[Match], out: IO[bytes], array: bool = True) -> int:
    """The stored lines as a JSON array (one record per line) or as JSON Lines."""
    count = 0
    for match in matches:
        if array:
            out.write(b"[\n" if count == 0 else b",\n")
        out.write(match.raw)
        if not array:
            out.write(b"\n")
        count += 1
    if array:
        out.write(b"\n]\n" if count else b"[]\n")
    return count
