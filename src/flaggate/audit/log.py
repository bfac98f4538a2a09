"""Reading the audit log: a streaming reader over git or a directory, the chain check,
filters and exports.

Layout, below ``<dir>`` (default ``audit``) on the audit branch or in a directory: one JSON
Lines file per month, ``YYYY/MM.jsonl`` (one record per line, :func:`record.dumps`), and
archived months ``archive/YYYY-MM.jsonl.gz`` (gzip of the exact month file) read in the place
of the month they replace. The chain runs through every month in order, from ``GENESIS``.
Anything else below ``<dir>`` (another name, a month 13, a symbolic link, a directory named
like a month file) is not part of the log: :func:`verify` reports it, :func:`query` warns.

The reader streams: one ``git ls-tree`` for the file list, one ``git cat-file --batch`` for
the contents, read in chunks and split into lines (archives decompressed on the fly), so its
memory does not grow with the log. A line longer than :data:`MAX_RECORD` is skipped while
reading, never held whole. :func:`verify` also keeps one fingerprint per record id, to find
duplicates.

Checking a hash without parsing: a line written by :func:`record.dumps` is the record's
canonical JSON with the ``"hash"`` member in its sorted place (after ``eventType``, before
``id``), so the bytes the hash covers are the line without that member. When a line has that
shape and those bytes hash to the stored hash, the check is the one :func:`record.record_hash`
would make if the line is canonical; any other line (an edit, another formatting, a nested
``hash`` key, a CR or byte-order mark) is parsed and checked with :func:`record.record_hash`,
as anyone would. The two can differ only for a line whose hash someone computed over its own
non-canonical bytes; ``full=True`` parses every line and catches that too.

Parsing is strict: UTF-8 only, no ``NaN``/``Infinity``, no number out of a double's range, no
unpaired surrogate, no key twice in an object. :func:`verify` does not stop at the first
problem: it reports each bad line, file or name (the first :data:`MAX_PROBLEMS`, counting
all) and goes on; after a line it cannot read, the next record's ``prevHash`` is not checked
(the hash it should hold is unknown). Text from the log quoted in a message is escaped
(:func:`printable`) and cut (:func:`shorten`), so a crafted line cannot forge output.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

from flaggate.audit.record import GENESIS, MAX_RECORD, Record, record_hash
from flaggate.errors import FlaggateError, GitError, UsageError, printable
from flaggate.git import Git

BRANCH = "flaggate-audit"
"""The default audit branch (``Settings.spec.audit.branch``)."""

CHUNK = 1 << 20
"""Bytes read (or decompressed) at a time."""

PIPE_SIZE = 1 << 20

MAX_PROBLEMS = 100
"""Problems :func:`verify` keeps to show (it counts every one)."""

SHOWN = 100
"""Characters of a value from the log (an id, a key, a number) a message quotes at most."""

TOO_LONG = b"\n"
"""What :class:`Lines` yields in the place of a line longer than :data:`MAX_RECORD` (no line
can be it: lines never hold a newline)."""

LAYOUT = "YYYY/MM.jsonl or archive/YYYY-MM.jsonl.gz"

_MONTH = re.compile(r"([0-9]{4})/([0-9]{2})\.jsonl")
_ARCHIVE = re.compile(r"archive/([0-9]{4})-([0-9]{2})\.jsonl\.gz")
_TEXT_ID = re.compile(rb'"hash":"[0-9a-f]{64}","id":"([^"\\]{1,200})"')
_STAMP = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_BOM = b"\xef\xbb\xbf"
_sha256 = hashlib.sha256

DELETED = "prevHash does not match the previous record (a record was deleted or reordered)"
NOT_FIRST = "prevHash is not the genesis value (records before it were deleted)"
EDITED = "hash mismatch (edited)"
GARBLED = "invalid JSON (truncated or garbled line)"
EMPTY = "empty line (a record was removed)"
NOT_OBJECT = "not a record: not a JSON object"
CRLF = "line ends with CR (CRLF)"
BOM = "starts with a byte-order mark"
LONG = f"record longer than {MAX_RECORD >> 20} MiB"
NO_NEWLINE = "no newline at the end of the file"
STRAY = f"not an audit log file (expected {LAYOUT})"


def shorten(text: str, limit: int = SHOWN) -> str:
    """:func:`printable` ``text`` cut to ``limit`` characters (``...`` marks the cut)."""
    shown = printable(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


class LogError(FlaggateError):
    """The log cannot be read as a log: a corrupt archive, a month stored twice, a file that
    cannot be read or does not belong."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{printable(path)}:{line}" if line is not None else printable(path)
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


@dataclass(frozen=True)
class Layout:
    """What is below the log's directory."""

    files: list[LogFile]
    """Every month, oldest first (of a month stored twice, the copy that sorts first)."""
    strays: list[LogError]
    """What is not a log file (another name, a symbolic link, a directory named like a month
    file) and directories that cannot be read, by path."""
    conflicts: list[LogError]
    """Months stored twice."""


class Lines:
    """A file's lines, without their newline, a batch (a chunk's worth) at a time: cheaper to
    loop over than one generator step per line.

    A line longer than ``limit`` bytes is skipped as it is read (memory stays bounded):
    :data:`TOO_LONG` stands in its place. Once every batch is read, ``unterminated`` says
    whether the last line had no newline.
    """

    def __init__(self, chunks: Iterable[bytes], limit: int = MAX_RECORD) -> None:
        self.unterminated = False
        self._batches = self._split(chunks, limit)

    def __iter__(self) -> Iterator[list[bytes]]:
        return self._batches

    def _split(self, chunks: Iterable[bytes], limit: int) -> Iterator[list[bytes]]:
        pending: list[bytes] = []  # the start of a line whose end is not read yet
        size = 0  # its bytes; -1 while skipping a line longer than limit
        for chunk in chunks:
            parts = chunk.split(b"\n")
            rest = parts.pop()
            if parts:
                if size < 0:
                    parts[0] = TOO_LONG
                elif size:
                    end = parts[0]
                    joined = size + len(end) > limit
                    parts[0] = TOO_LONG if joined else b"".join([*pending, end])
                if len(chunk) > limit:
                    parts = [TOO_LONG if len(part) > limit else part for part in parts]
                pending, size = [rest], len(rest)
                yield parts
            elif size >= 0:
                pending.append(rest)
                size += len(rest)
            if size > limit:
                pending, size = [], -1
        if size:
            self.unterminated = True
            yield [TOO_LONG if size < 0 else b"".join(pending)]


class LogSource:
    """Where the log is read from: its files in chain order, and their lines."""

    description = "audit log"

    def scan(self) -> Layout:
        """The month files, and what below the log's directory is not one."""
        raise NotImplementedError

    def files(self) -> list[LogFile]:
        """Every month, oldest first (raises :class:`LogError` for a month stored twice);
        what is not a month file is left out."""
        layout = self.scan()
        if layout.conflicts:
            raise layout.conflicts[0]
        return layout.files

    def chunks(self, files: Sequence[LogFile]) -> Iterator[tuple[LogFile, Iterator[bytes]]]:
        """Each file's stored bytes (compressed for an archive), in chunks; a file's chunks
        must be read before the next file is asked for (what is left is skipped). A file
        that cannot be read raises :class:`LogError` from its chunks, and the next file
        follows."""
        raise NotImplementedError

    def sizes(self, files: Sequence[LogFile]) -> list[int | None]:
        """The stored size of each file in bytes (None: unknown)."""
        return [None for _ in files]

    def read(self, files: Sequence[LogFile] | None = None) -> Iterator[tuple[LogFile, Lines]]:
        """Each file with its lines (archives decompressed), in chain order; reading a
        file's lines raises :class:`LogError` when the file cannot be read."""
        for file, chunks in self.chunks(self.files() if files is None else files):
            data = gunzip(chunks, file.path) if file.archived else chunks
            yield file, Lines(data)


FILE = "a regular file"
DIRECTORY = "a directory"


def _layout(
    entries: Iterable[tuple[str, str, str | None, str]], errors: Iterable[LogError] = ()
) -> Layout:
    """``(path relative to <dir>, shown path, blob, kind)`` -> the layout."""
    months: dict[tuple[int, int], LogFile] = {}
    strays, conflicts = list(errors), []
    for relative, shown, blob, kind in sorted(entries):
        live = _MONTH.fullmatch(relative)
        found = live or _ARCHIVE.fullmatch(relative)
        named = found is not None and 1 <= int(found.group(2)) <= 12
        if kind == DIRECTORY:
            if named:  # a directory where a month file is expected
                strays.append(LogError(shown, f"not a regular file ({kind})"))
            continue
        if kind != FILE:
            strays.append(LogError(shown, f"not a regular file ({kind})"))
            continue
        if found is None or not named:
            strays.append(LogError(shown, STRAY))
            continue
        file = LogFile(shown, int(found.group(1)), int(found.group(2)), live is None, blob)
        other = months.get(file.key)
        if other is not None:
            also = f"{file.year}-{file.month:02d} is also stored in {printable(other.path)}"
            conflicts.append(LogError(shown, also))
            continue
        months[file.key] = file
    strays.sort(key=lambda error: error.path)
    return Layout([months[key] for key in sorted(months)], strays, conflicts)


def _normal_dir(directory: str) -> str:
    return directory.strip("/") if directory.strip("/") not in ("", ".") else ""


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _unreadable(path: str, exc: OSError) -> LogError:
    return LogError(path, f"cannot read: {exc.strerror or exc}")


def _failing(error: LogError) -> Iterator[bytes]:
    """Chunks that raise ``error`` when read."""
    yield from ()
    raise error


class DirectorySource(LogSource):
    """The log in a plain directory: ``<root>/<dir>/YYYY/MM.jsonl`` (a checkout)."""

    def __init__(self, root: Path, directory: str = "audit") -> None:
        self.root = root
        self.directory = _normal_dir(directory)
        self.base = root / self.directory if self.directory else root
        self.description = f"directory {self.base}"

    def scan(self) -> Layout:
        if not self.base.is_dir():
            raise UsageError(f"no audit log in {self.base}: not a directory")
        base = str(self.base)
        entries: list[tuple[str, str, str | None, str]] = []
        errors: list[LogError] = []

        def failed(exc: OSError) -> None:
            errors.append(_unreadable(str(exc.filename or base), exc))

        for folder, folders, names in os.walk(base, onerror=failed):
            folders[:] = sorted(name for name in folders if name != ".git")  # never in a tree
            for name in (*folders, *names):
                if name == ".git":
                    continue
                path = os.path.join(folder, name)
                try:
                    mode = os.lstat(path).st_mode
                except OSError as exc:
                    failed(exc)
                    continue
                relative = os.path.relpath(path, base).replace(os.sep, "/")
                entries.append((relative, path, None, _kind(mode)))
        return _layout(entries, errors)

    def sizes(self, files: Sequence[LogFile]) -> list[int | None]:
        found: list[int | None] = []
        for file in files:
            try:
                found.append(os.lstat(file.path).st_size)
            except OSError:
                found.append(None)
        return found

    def chunks(self, files: Sequence[LogFile]) -> Iterator[tuple[LogFile, Iterator[bytes]]]:
        for file in files:
            try:
                stream = open(file.path, "rb")  # noqa: SIM115 (closed below)
            except OSError as exc:
                yield file, _failing(_unreadable(file.path, exc))
                continue
            with stream:
                yield file, _stream_chunks(stream, file.path)


def file_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """A stream's bytes in chunks."""
    while chunk := stream.read(CHUNK):
        yield chunk


def _stream_chunks(stream: IO[bytes], path: str) -> Iterator[bytes]:
    try:
        yield from file_chunks(stream)
    except OSError as exc:
        raise _unreadable(path, exc) from None


_GIT_KINDS = {
    b"100644": FILE,
    b"100755": FILE,
    b"120000": "a symbolic link",
    b"160000": "a submodule",
}


class GitSource(LogSource):
    """The log on a git ref (default: the local audit branch, else ``origin/<branch>``)."""

    def __init__(self, git: Git, ref: str | None = None, directory: str = "audit") -> None:
        self.git = git
        self.directory = _normal_dir(directory)
        self.ref, self.commit = resolve_log_ref(git, ref)
        self.description = f"{self.ref} at {self.commit[:12]}"
        self._sizes: dict[str, int] = {}
        """Blob id -> size, as the last scan listed them."""

    def scan(self) -> Layout:
        prefix = f"{self.directory}/" if self.directory else ""
        paths = [self.directory] if self.directory else []
        out = self.git.run(["ls-tree", "-r", "-l", "-z", "--full-tree", self.commit, "--", *paths])
        entries: list[tuple[str, str, str | None, str]] = []
        for item in out.split(b"\0"):
            meta, _, name = item.partition(b"\t")
            fields = meta.split()  # mode, type, object, size (padded; "-" for a tree)
            # A name that is not UTF-8 is kept (and escaped in messages), never a crash.
            path = name.decode(errors="surrogateescape")
            if len(fields) != 4 or not (path.startswith(prefix) or path == self.directory):
                continue
            kind = _GIT_KINDS.get(fields[0], f"mode {fields[0].decode(errors='replace')}")
            blob = fields[2].decode()
            if fields[3].isdigit():
                self._sizes[blob] = int(fields[3])
            entries.append((path[len(prefix) :], path, blob, kind))
        return _layout(entries)

    def sizes(self, files: Sequence[LogFile]) -> list[int | None]:
        return [self._sizes.get(file.blob) if file.blob else None for file in files]

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
                if len(header) == 2 and header[1] == b"missing":
                    missing = f"blob {file.blob} is missing from the repository"
                    yield file, _failing(LogError(file.path, missing))
                    continue
                if len(header) < 3 or header[1] != b"blob":
                    raise GitError(f"{file.path}: unexpected answer from git cat-file: {header!r}")
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


# --- parsing a line --------------------------------------------------------------------------


class LineError(ValueError):
    """Why a line holds no record (``ident``: the record's id, when it has one)."""

    def __init__(self, reason: str, ident: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ident = ident


def _constant(name: str) -> Any:
    raise LineError(f"not valid JSON ({name})")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise LineError(f"not valid JSON (number {shorten(text)} out of range)")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LineError(f'not valid JSON (duplicate key "{shorten(key)}")')
            seen.add(key)
    return record


_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)
_STRICT_DECODER = json.JSONDecoder(
    parse_float=_finite, parse_constant=_constant, object_pairs_hook=_unique
)


def parse_line(line: bytes, unique: bool = False) -> Record:
    """The record a line holds (a line without newline, CR or byte-order mark); raises
    :class:`LineError` for a line that holds none: not UTF-8, not JSON, JSON that Python
    reads but other languages read differently or not at all (NaN, Infinity, a number out
    of range, an unpaired surrogate; with ``unique``, a key twice in an object: slower),
    not an object, no ``id``, ``prevHash`` or ``hash`` string."""
    if line == TOO_LONG:
        raise LineError(LONG)
    try:
        text = line.decode()
    except UnicodeDecodeError as exc:
        where = f"byte 0x{line[exc.start]:02x} at column {exc.start + 1}"
        raise LineError(f"not valid UTF-8 ({where})") from None
    try:
        value = (_STRICT_DECODER if unique else _DECODER).decode(text)
        if "\\u" in text and _SURROGATE.search(text):
            json.dumps(value, ensure_ascii=False).encode()
    except LineError:
        raise
    except UnicodeEncodeError:
        raise LineError("not valid JSON (unpaired surrogate)") from None
    except json.JSONDecodeError:
        raise LineError(GARBLED if text.strip() else EMPTY) from None
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise LineError("not valid JSON (number too long)") from None
    except RecursionError:
        raise LineError("not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise LineError(NOT_OBJECT)
    ident, prev, stored = value.get("id"), value.get("prevHash"), value.get("hash")
    if not (isinstance(ident, str) and isinstance(prev, str) and isinstance(stored, str)):
        _missing(value)
    return value


def _missing(record: dict[str, Any]) -> NoReturn:
    """Raise :class:`LineError` naming the first of the members every record has that
    ``record`` lacks."""
    ident = record.get("id")
    ident_bytes = ident.encode() if isinstance(ident, str) else None
    for key in ("id", "prevHash", "hash"):
        if not isinstance(record.get(key), str):
            raise LineError(f"not a record: no `{key}` string", ident_bytes)
    raise AssertionError("no member is missing")


# --- verifying the chain ---------------------------------------------------------------------


@dataclass(frozen=True)
class BadRecord:
    """A problem of the log: where it is and why (``id``: the record's, when known)."""

    path: str
    line: int | None
    id: str | None
    reason: str

    def __str__(self) -> str:
        where = printable(self.path)
        where = f"{where}:{self.line}" if self.line is not None else where
        record = f"record {shorten(self.id)}: " if self.id else ""
        return f"{where}: {record}{self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: the records read, and the problems if any."""

    records: int
    """Lines read (every record, intact or not)."""
    files: int
    first: str | None = None
    """Timestamp of the first record (of an intact log)."""
    last: str | None = None
    """Timestamp of the last record (of an intact log)."""
    head: str | None = None
    """Hash of the last record: the value the next record's ``prevHash`` must hold."""
    problems: tuple[BadRecord, ...] = ()
    """The first :data:`MAX_PROBLEMS` problems: what does not fit the layout (by path), then
    the bad lines and files in log order."""
    count: int = 0
    """Every problem found."""
    intact: int = 0
    """Records before the first bad line or file."""

    @property
    def ok(self) -> bool:
        return self.count == 0

    @property
    def bad(self) -> BadRecord | None:
        """The first problem."""
        return self.problems[0] if self.problems else None


def _inspect(line: bytes, full: bool) -> tuple[bytes, bytes, bytes | None, tuple[str, ...]]:
    """``(hash, prevHash, id, problems)`` of one line: ``hash`` is empty when unknown,
    ``prevHash`` when the line has none to check; no problems when its hash holds."""
    if not full:
        found = intact_line(line)
        if found is not None:
            return (*found, ())
    return _inspect_parsed(line)


def intact_line(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(hash, prevHash, id)`` of a line exactly as :func:`flaggate.audit.record.dumps`
    writes it whose hash holds, read from the bytes without parsing them; None for any
    other line (which only a parse can judge)."""
    # The shape record.dumps writes: `{…,"hash":"<64 hex>","id":"…`, later
    # `,"prevHash":"<64 hex>"`, `…}` and no other string member whose key ends in "ash"
    # (an unescaped `ash":"` is always a key), so both are the top-level members.
    i = line.rfind(b',"hash":"')
    if i > 0 and line[i + 73 : i + 81] == b'","id":"' and line[-1:] == b"}":
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
                and line[:1] == b"{"
            ):
                return stored, line[p + 13 : p + 77], ident
    return None


def _inspect_parsed(line: bytes) -> tuple[bytes, bytes, bytes | None, tuple[str, ...]]:
    problems: list[str] = []
    if line.startswith(_BOM):
        problems.append(BOM)
        line = line[len(_BOM) :]
    if line.endswith(b"\r"):
        problems.append(CRLF)
        line = line[:-1]
    try:
        record = parse_line(line, unique=True)
    except LineError as exc:
        ident = exc.ident
        if ident is None and line != TOO_LONG:
            found = _TEXT_ID.search(line)
            ident = found.group(1) if found else None
        return b"", b"", ident, (*problems, exc.reason)
    stored, prev = record["hash"].encode(), record["prevHash"].encode()
    try:
        if record_hash(record) != record["hash"]:
            problems.append(EDITED)
    except RecursionError:  # parsed, yet too deep to write back
        return b"", b"", record["id"].encode(), (*problems, "not valid JSON (nested too deeply)")
    return stored, prev, record["id"].encode(), tuple(problems)


def verify(source: LogSource, full: bool = False) -> VerifyResult:
    """Check what is below the log's directory, every record's hash, the ``prevHash`` links
    from ``GENESIS``, and that no id appears twice; every problem is reported (the first
    :data:`MAX_PROBLEMS` kept) and the rest of the log still checked."""
    layout = source.scan()
    files = layout.files
    if not full and not layout.strays and not layout.conflicts:
        from flaggate.audit.verify_fast import check_intact, parallel_workers

        workers = parallel_workers(source.sizes(files))
        whole = check_intact(source, files, workers) if workers else None
        if whole is not None:
            return VerifyResult(
                whole.records,
                len(files),
                first=_timestamp(whole.first_line),
                last=_timestamp(whole.last_line),
                head=whole.head.decode() if whole.head else None,
                intact=whole.records,
            )
    walk = _Walk()
    walk.run(source, files, full)
    found, count = list(walk.problems), walk.count
    if walk.suspects:
        duplicates, confirmed = _duplicates(source, files, walk.suspects, full)
        found += duplicates
        count += len(confirmed)
        # A record copied elsewhere breaks the link too: the copy is the better reason.
        for position, link in walk.held.items():
            if position not in confirmed:
                found.append((position, link))
                count += 1
    found.sort(key=lambda item: item[0])  # stable: a line's own problems first
    placed = sorted((*layout.strays, *layout.conflicts), key=lambda error: error.path)
    count += len(placed)
    problems = [BadRecord(e.path, e.line, None, e.reason) for e in placed]
    problems += [problem for _, problem in found]
    intact = found[0][0] if found else walk.lines
    if count:
        return VerifyResult(
            walk.lines,
            len(files),
            problems=tuple(problems[:MAX_PROBLEMS]),
            count=count,
            intact=intact,
        )
    return VerifyResult(
        walk.lines,
        len(files),
        first=_timestamp(walk.first_line),
        last=_timestamp(walk.last_line),
        head=walk.expected.decode() if walk.lines and walk.expected else None,
        intact=walk.lines,
    )


class _Walk:
    """One pass over the log: every line's hash and link."""

    def __init__(self) -> None:
        self.expected: bytes | None = GENESIS.encode()
        """The hash the next record's ``prevHash`` must hold (None: unknown)."""
        self.lines = 0
        """Lines read (the position of the next one)."""
        self.seen: set[int] = set()
        self.suspects: dict[int, int] = {}
        """Position -> fingerprint of a record whose id fingerprint was seen before."""
        self.held: dict[int, BadRecord] = {}
        """Broken links of suspects: reported unless the record is a duplicate."""
        self.problems: list[tuple[int, BadRecord]] = []
        """The first problems, with their position."""
        self.count = 0
        self.first_line = self.last_line = b""

    def report(self, position: int, problem: BadRecord) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((position, problem))

    def run(self, source: LogSource, files: Sequence[LogFile], full: bool) -> None:
        expected: bytes | None = GENESIS.encode()
        position = 0
        seen, suspects, held, report = self.seen, self.suspects, self.held, self.report
        inspect = _inspect
        first = last = b""
        try:
            for file, lines in source.read(files):
                number = 0
                try:
                    for batch in lines:
                        for line in batch:
                            number += 1
                            stored, prev, ident, found = inspect(line, full)
                            if ident is not None:
                                fingerprint = hash(ident)
                                if fingerprint in seen:
                                    suspects[position] = fingerprint
                                else:
                                    seen.add(fingerprint)
                            if found or prev != expected:
                                shown = ident.decode(errors="replace") if ident else None
                                for reason in found:
                                    report(position, BadRecord(file.path, number, shown, reason))
                                if prev and expected is not None and prev != expected:
                                    reason = NOT_FIRST if position == 0 else DELETED
                                    link = BadRecord(file.path, number, shown, reason)
                                    if position in suspects:
                                        held[position] = link
                                    else:
                                        report(position, link)
                            if position == 0:
                                first = line
                            last = line
                            expected = stored or None
                            position += 1
                except LogError as exc:
                    report(position, BadRecord(exc.path, exc.line, None, exc.reason))
                    expected = None
                if lines.unterminated:
                    report(position - 1, BadRecord(file.path, number, None, NO_NEWLINE))
        finally:
            self.expected, self.lines = expected, position
            self.first_line, self.last_line = first, last


def _duplicates(
    source: LogSource, files: Sequence[LogFile], suspects: dict[int, int], full: bool
) -> tuple[list[tuple[int, BadRecord]], set[int]]:
    """Read the log again up to the last suspect: the records whose id really is an earlier
    record's (fingerprints can collide): the first :data:`MAX_PROBLEMS` with their position,
    and the positions of all."""
    wanted = set(suspects.values())
    until = max(suspects)
    first_at: dict[bytes, str] = {}
    kept: list[tuple[int, BadRecord]] = []
    confirmed: set[int] = set()
    position = 0
    for file, lines in source.read(files):
        number = 0
        with contextlib.suppress(LogError):  # reported by the first pass
            for batch in lines:
                for line in batch:
                    number += 1
                    if position > until:
                        return kept, confirmed
                    ident = _inspect(line, full)[2]
                    if ident is not None and hash(ident) in wanted:
                        if ident in first_at:
                            confirmed.add(position)
                            if len(kept) < MAX_PROBLEMS:
                                reason = f"duplicate id (first at {first_at[ident]})"
                                shown = ident.decode(errors="replace")
                                kept.append((position, BadRecord(file.path, number, shown, reason)))
                        else:
                            first_at[ident] = f"{printable(file.path)}:{number}"
                    position += 1
    return kept, confirmed


def _timestamp(line: bytes) -> str | None:
    try:
        value = json.loads(line).get("timestamp")
    except (ValueError, AttributeError, RecursionError):
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
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 at +01:00 is year 0 in UTC
        return None


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
    """The records that match, in log order. A line that holds no record, a record without a
    valid timestamp when the filter has dates, and what is not a log file are skipped (and
    reported to ``warn``); a month stored twice and a file that cannot be read raise
    :class:`LogError`. A CR or byte-order mark around a record is dropped (`audit verify`
    reports it)."""
    layout = source.scan()
    if layout.conflicts:
        raise layout.conflicts[0]

    def skipped(message: str) -> None:
        if warn is not None:
            warn(f"{message}, skipped")

    for stray in layout.strays:
        skipped(str(stray))
    may_match, matches = where.may_match, where.matches
    dated = where.since is not None or where.until is not None
    undated = replace(where, since=None, until=None)
    for file, lines in source.read(layout.files):
        number = 0
        for batch in lines:
            for line in batch:
                number += 1
                if line == TOO_LONG:
                    skipped(f"{printable(file.path)}:{number}: {LONG}")
                    continue
                if not may_match(line):
                    continue
                if line[-1:] == b"\r":
                    line = line[:-1]
                if line[:3] == _BOM:
                    line = line[3:]
                try:
                    record = parse_line(line)
                except LineError as exc:
                    if exc.reason != EMPTY:
                        skipped(f"{printable(file.path)}:{number}: {exc.reason}")
                    continue
                if matches(record):
                    yield Match(file.path, number, line, record)
                elif dated and _record_time(record) is None and undated.matches(record):
                    name = shorten(record["id"])
                    skipped(f"{printable(file.path)}:{number}: record {name}: no valid timestamp")


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
