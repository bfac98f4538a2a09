"""`flaggate audit`: query, export, verify and archive the audit log.

The log is read from a git ref (default: the local branch ``flaggate-audit``, else
``origin/flaggate-audit``) or from a directory (``--path``), below ``--dir`` (default
``audit``). ``archive`` rewrites a local branch with git plumbing, never a checkout.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flaggate import clock
from flaggate.audit.log import (
    BRANCH,
    DirectorySource,
    Filter,
    GitSource,
    LogError,
    LogFile,
    LogSource,
    Match,
    file_chunks,
    gunzip,
    parse_moment,
    query,
    verify,
    write_csv,
    write_json,
)
from flaggate.errors import GitError, UsageError, printable
from flaggate.git import Git


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate audit ACTION`."""
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    found = actions.add_parser(
        "query",
        help="print the records that match the filters",
        description="Print the records that match every filter (a repeated filter: any value).",
    )
    _source_options(found)
    _filter_options(found, "--since", "--until")
    found.add_argument("--format", choices=("table", "json", "jsonl"), default="table")
    export = actions.add_parser(
        "export",
        help="export records as CSV or JSON",
        description="Export the records between two dates (inclusive) as CSV or a JSON array.",
    )
    _source_options(export)
    _filter_options(export, "--from", "--to")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    check = actions.add_parser(
        "verify",
        help="check every hash and link of the chain",
        description="Check every record's hash, the prevHash chain across months and archives, "
        "that no id appears twice and that every file below the log's directory is a month "
        "file. Exit 0 when intact, 1 naming each problem (file and line).",
    )
    _source_options(check)
    check.add_argument(
        "--full",
        action="store_true",
        help="parse every line and recompute its canonical JSON (slower; also catches a hash "
        "computed over non-canonical bytes)",
    )
    old = actions.add_parser(
        "archive",
        help="gzip whole months older than a cutoff on the local audit branch",
        description="Replace every month that ended more than DAYS days ago (never the newest) "
        "with <dir>/archive/YYYY-MM.jsonl.gz in one new commit on the local branch, "
        "without a checkout. Pushing is up to you.",
    )
    _source_options(old)
    old.add_argument(
        "--older-than",
        type=_days,
        required=True,
        metavar="DAYS",
        help="archive the months that ended more than DAYS days ago",
    )
    old.add_argument("--dry-run", action="store_true", help="list the months, change nothing")
    old.add_argument(
        "--at", default=None, metavar="TIME", help="count the days back from TIME (default now)"
    )


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-C", "--repo", type=Path, default=Path.cwd(), metavar="DIR", help="repository path"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--ref", default=None, help=f"git ref holding the log (default: {BRANCH}, else origin/…)"
    )
    where.add_argument(
        "--path",
        type=Path,
        default=None,
        metavar="DIR",
        help="read a directory instead (DIR holds <dir>; relative to -C)",
    )
    parser.add_argument("--dir", default="audit", help="log directory (default: audit)")


def _filter_options(parser: argparse.ArgumentParser, since: str, until: str) -> None:
    parser.add_argument(
        since, dest="since", metavar="TIME", help="from this date or ISO time (inclusive)"
    )
    parser.add_argument(
        until, dest="until", metavar="TIME", help="up to this date or ISO time (inclusive)"
    )
    for name, dest, metavar, what in (
        ("--type", "types", "TYPE", "eventType, e.g. flag.toggled"),
        ("--actor", "actors", "LOGIN", "actor login"),
        ("--flag", "flags", "KEY", "flag key (a flag resource)"),
        ("--resource", "resources", "ID", "resource id (flag key, stage, policy path)"),
        ("--env", "environments", "ENV", "resource environment"),
        ("--ticket", "tickets", "TICKET", "ticket id"),
    ):
        parser.add_argument(
            name,
            dest=dest,
            metavar=metavar,
            action="append",
            default=[],
            help=f"{what} (repeatable)",
        )
    parser.add_argument(
        "--pr",
        dest="pulls",
        metavar="N",
        type=int,
        action="append",
        default=[],
        help="pull request number (repeatable)",
    )


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 0:
        raise argparse.ArgumentTypeError("DAYS must not be negative")
    return days


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    try:
        if args.audit_action == "verify":
            return _verify(args)
        if args.audit_action == "archive":
            return _archive(args)
        return _print_records(args)
    except BrokenPipeError:  # the reader stopped early (`| head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _source(args: argparse.Namespace) -> LogSource:
    if args.path is not None:
        return DirectorySource(args.repo / args.path, args.dir)
    return GitSource(Git(args.repo), args.ref, args.dir)


def _filter(args: argparse.Namespace) -> Filter:
    since_option = "--since" if args.audit_action == "query" else "--from"
    until_option = "--until" if args.audit_action == "query" else "--to"
    return Filter(
        since=parse_moment(args.since, since_option) if args.since else None,
        until=parse_moment(args.until, until_option, end=True) if args.until else None,
        types=tuple(args.types),
        actors=tuple(args.actors),
        flags=tuple(args.flags),
        resources=tuple(args.resources),
        environments=tuple(args.environments),
        tickets=tuple(args.tickets),
        pulls=tuple(args.pulls),
    )


class _Warnings:
    """Prints each warning of a query (one line) and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        print(f"flaggate: warning: {message} (run `flaggate audit verify`)", file=sys.stderr)


def _print_records(args: argparse.Namespace) -> int:
    where = _filter(args)
    source = _source(args)
    warn = _Warnings()
    matches = query(source, where, warn)
    if args.format == "csv":
        count = write_csv(matches, sys.stdout)
    elif args.format in ("json", "jsonl"):
        sys.stdout.flush()
        count = write_json(matches, sys.stdout.buffer, array=args.format == "json")
        sys.stdout.buffer.flush()
    else:
        count = _write_table(matches)
    skipped = f"; {warn.count} skipped, see the warnings above" if warn.count else ""
    print(
        f"flaggate: {count} record(s) from {printable(source.description)}{skipped}",
        file=sys.stderr,
    )
    return 0


_ROW = "{:<20}  {:<20}  {:<16}  {:<28}  {:<11}  {:>6}  {}"


def _write_table(matches: Iterable[Match]) -> int:
    print(_ROW.format("TIMESTAMP", "EVENT", "ACTOR", "RESOURCE", "ENVIRONMENT", "PR", "TICKET"))
    count = 0
    for match in matches:
        record = match.record
        actor, resource, context = (
            _part(record, "actor"),
            _part(record, "resource"),
            _part(record, "context"),
        )
        pull = context.get("pullRequest")
        print(
            _ROW.format(
                _text(record.get("timestamp")),
                _text(record.get("eventType")),
                _text(actor.get("login")),
                _text(resource.get("id")),
                _text(resource.get("environment")),
                f"#{pull}" if isinstance(pull, int) else "-",
                _text(context.get("ticketId")),
            )
        )
        count += 1
    return count


def _part(record: dict[str, object], key: str) -> dict[str, object]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    """A table cell: on one line, control characters escaped (a record cannot drive the
    terminal)."""
    return "-" if value is None else printable(" ".join(str(value).split()))


def _verify(args: argparse.Namespace) -> int:
    source = _source(args)
    result = verify(source, full=args.full)
    if not result.ok:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        if result.count > len(result.problems):
            hidden = result.count - len(result.problems)
            print(f"flaggate: {hidden} more problem(s) not shown", file=sys.stderr)
        intact = f"; the first {result.intact} are intact" if result.intact < result.records else ""
        print(
            f"flaggate: audit log {printable(source.description)} is broken: {result.count} "
            f"problem(s) in {result.records} line(s) of {result.files} file(s){intact}",
            file=sys.stderr,
        )
        return 1
    if result.records == 0:
        print(f"ok: 0 records in {printable(source.description)}")
        return 0
    print(
        f"ok: {result.records} records, chain intact (first {result.first}, last {result.last}; "
        f"{result.files} file(s), head {result.head})"
    )
    return 0


# --- archive ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Archived:
    """One month moved into its archive."""

    month: LogFile
    archive_path: str
    size: int = 0
    compressed: int = 0


@dataclass(frozen=True)
class ArchiveResult:
    """What :func:`archive` did (``new`` is None for a dry run or when nothing was due)."""

    branch: str
    old: str
    new: str | None
    months: tuple[Archived, ...]


def archivable(files: Sequence[LogFile], cutoff: datetime) -> list[LogFile]:
    """Live months that ended at or before ``cutoff``; never the newest month, which holds
    the end of the chain that the next append continues."""
    chosen = []
    for file in files[:-1]:
        following = datetime(file.year + file.month // 12, file.month % 12 + 1, 1, tzinfo=UTC)
        if not file.archived and following <= cutoff:
            chosen.append(file)
    return chosen


def archive_path(directory: str, file: LogFile) -> str:
    """``<dir>/archive/YYYY-MM.jsonl.gz``."""
    name = f"archive/{file.year:04d}-{file.month:02d}.jsonl.gz"
    return f"{directory}/{name}" if directory else name


def archive(
    git: Git, branch: str, directory: str, cutoff: datetime, dry_run: bool = False
) -> ArchiveResult:
    """Replace the live months of the local ``branch`` that ended before ``cutoff`` with their
    gzip archives, in one new commit on top (hash-object, mktree, commit-tree, update-ref: no
    checkout). The branch moves only if nobody moved it meanwhile."""
    name = branch.removeprefix("refs/heads/")
    refname = f"refs/heads/{name}"
    try:
        out = git.run(["rev-parse", "--verify", "--quiet", f"{refname}^{{commit}}"])
    except GitError:
        raise GitError(
            f"archive needs the local branch {name}, which does not exist",
            f"git branch {name} origin/{name}",
        ) from None
    commit = out.decode().strip()
    _refuse_checked_out(git, refname, name)
    source = GitSource(git, refname, directory)
    chosen = archivable(source.files(), cutoff)
    if dry_run or not chosen:
        months = tuple(Archived(f, archive_path(source.directory, f)) for f in chosen)
        return ArchiveResult(name, commit, None, months)
    with tempfile.TemporaryDirectory(prefix="flaggate-archive-") as temp:
        sizes: list[tuple[int, int]] = []
        paths: list[str] = []
        for file, chunks in source.chunks(chosen):
            target = os.path.join(temp, f"{file.year:04d}-{file.month:02d}.jsonl.gz")
            sizes.append((_compress(file, chunks, target), os.path.getsize(target)))
            paths.append(target)
        request = "".join(f"{path}\n" for path in paths).encode()
        blobs = git.run(["hash-object", "-w", "--no-filters", "--stdin-paths"], request).split()
    changes: dict[bytes, bytes | None] = {}
    for file, blob in zip(chosen, blobs, strict=True):
        changes[file.path.encode()] = None
        changes[archive_path(source.directory, file).encode()] = blob
    tree = _rewrite_tree(git, commit, changes)
    if tree is None:  # cannot happen: the archives are in it
        raise GitError("archiving would leave an empty tree")
    months_text = ", ".join(f"{f.year:04d}-{f.month:02d}" for f in chosen)
    message = f"audit: archive {months_text}"
    new = git.run(["commit-tree", tree, "-p", commit, "-m", message]).decode().strip()
    git.run(["update-ref", "-m", message, refname, new, commit])
    months = tuple(
        Archived(f, archive_path(source.directory, f), size, packed)
        for f, (size, packed) in zip(chosen, sizes, strict=True)
    )
    return ArchiveResult(name, commit, new, months)


def _refuse_checked_out(git: Git, refname: str, name: str) -> None:
    out = git.run(["worktree", "list", "--porcelain"]).decode()
    where = None
    for line in out.splitlines():
        if line.startswith("worktree "):
            where = line[len("worktree ") :]
        elif line == f"branch {refname}":
            raise GitError(
                f"{name} is checked out in {where}; archive moves the branch without a checkout",
                "switch that worktree to another branch first",
            )


def _compress(file: LogFile, chunks: Iterable[bytes], target: str) -> int:
    """Gzip the month into ``target``; check that it decompresses to exactly the month."""
    original = hashlib.sha256()
    size = 0
    with (
        open(target, "wb") as sink,
        gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=sink, mtime=0) as packed,
    ):
        for chunk in chunks:
            original.update(chunk)
            size += len(chunk)
            packed.write(chunk)
    check = hashlib.sha256()
    with open(target, "rb") as stream:
        for chunk in gunzip(file_chunks(stream), target):
            check.update(chunk)
    if check.digest() != original.digest():
        raise LogError(file.path, "the archive does not decompress to the month's bytes")
    return size


def _rewrite_tree(git: Git, tree: str, changes: dict[bytes, bytes | None]) -> str | None:
    """``tree`` with ``changes`` applied (relative path -> blob id, or None to remove); None
    when nothing is left. Only the trees along the changed paths are read and rewritten."""
    entries: dict[bytes, bytes] = {}
    if tree:
        for item in git.run(["ls-tree", "-z", tree]).split(b"\0"):
            if item:
                meta, entry = item.split(b"\t", 1)
                entries[entry] = meta
    below: dict[bytes, dict[bytes, bytes | None]] = {}
    for path, blob in changes.items():
        head, slash, rest = path.partition(b"/")
        if slash:
            below.setdefault(head, {})[rest] = blob
        elif blob is None:
            entries.pop(head, None)
        else:
            entries[head] = b"100644 blob " + blob
    for name, inner in below.items():
        fields = entries.get(name, b"").split(b" ")
        current = fields[2].decode() if len(fields) == 3 and fields[1] == b"tree" else ""
        child = _rewrite_tree(git, current, inner)
        if child is None:
            entries.pop(name, None)
        else:
            entries[name] = b"040000 tree " + child.encode()
    if not entries:
        return None
    listing = b"".join(meta + b"\t" + entry + b"\0" for entry, meta in entries.items())
    return git.run(["mktree", "-z"], listing).decode().strip()


def _archive(args: argparse.Namespace) -> int:
    if args.path is not None:
        raise UsageError("archive rewrites a local branch (--ref); it cannot work on --path")
    now = clock.parse(args.at, "--at") if args.at else clock.now()
    cutoff = now - timedelta(days=args.older_than)
    git = Git(args.repo)
    result = archive(git, args.ref or BRANCH, args.dir, cutoff, args.dry_run)
    if not result.months:
        print(
            f"nothing to archive: no month of {result.branch} (except the newest) ended before "
            f"{clock.utc(cutoff)}"
        )
        return 0
    if result.new is None:
        print(f"dry run: would archive {len(result.months)} month(s) of {result.branch}:")
        for done in result.months:
            print(f"  {done.month.path} -> {done.archive_path}")
        return 0
    print(
        f"archived {len(result.months)} month(s) of {result.branch}: "
        f"{result.old[:12]} -> {result.new[:12]}"
    )
    for done in result.months:
        print(
            f"  {done.month.path} -> {done.archive_path} "
            f"({_size(done.size)} -> {_size(done.compressed)})"
        )
    print(f"push it with: git push origin {result.branch}")
    return 0


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
