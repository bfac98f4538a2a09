"""Plain functions over git: refs, changed paths, blobs (one `cat-file --batch`), history.

Every call goes through :class:`Git.run`, which counts the processes it starts so that tests
can assert the cost of an evaluation does not grow with the size of the repository.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, TypeVar

from flaggate.errors import GitError

NULL_SHA = "0" * 40

# Reading never needs the user's diff drivers, pagers or optional locks.
_BASE_ARGS = ("git", "-c", "core.quotePath=false", "--no-pager", "--no-optional-locks")


REGULAR_FILE_MODES = frozenset({"100644", "100755"})
"""The modes of regular files; anything else (a symlink, a submodule) is not a file to read."""

_MODE_NAMES = {
    "120000": "a symlink",
    "160000": "a submodule entry",
    "040000": "a directory",
}


def describe_mode(mode: str) -> str:
    """``a symlink (mode 120000)``: what a non-regular tree entry is, for messages."""
    return f"{_MODE_NAMES.get(mode, 'not a regular file')} (mode {mode})"


@dataclass(frozen=True)
class RawChange:
    """One changed path from ``git diff --raw``: blob ids are ``NULL_SHA`` where absent."""

    status: str
    path: str
    old_blob: str
    new_blob: str
    old_mode: str = "100644"
    new_mode: str = "100644"


@dataclass(frozen=True)
class TreeEntry:
    """One entry of ``git ls-tree -r``: its mode as git stores it, object id and path."""

    mode: str
    oid: str
    path: str

    @property
    def regular(self) -> bool:
        """Whether the entry is a regular file (not a symlink, submodule or directory)."""
        return self.mode in REGULAR_FILE_MODES


@dataclass(frozen=True)
class MergeResult:
    """What merging two commits produces: the tree (when clean) and the conflicted paths."""

    tree: str
    conflicts: tuple[str, ...] = ()


class Git:
    """A git repository at ``root``; ``processes`` counts the git processes started."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.processes = 0
        self.env = {**os.environ, **env} if env else None
        """Extra environment for every git process (e.g. a temporary ``GIT_INDEX_FILE``)."""

    @classmethod
    def discover(cls, start: Path) -> Git:
        """The repository containing ``start``."""
        probe = cls(start)
        top = probe.run(["rev-parse", "--show-toplevel"]).decode().strip()
        repo = cls(Path(top))
        repo.processes = probe.processes
        return repo

    def run(self, args: Sequence[str], stdin: bytes | None = None) -> bytes:
        """Run one git command and return its standard output; raise :class:`GitError`."""
        code, out, err = self.run_status(args, stdin)
        if code != 0:
            message = err.decode(errors="replace").strip().splitlines()
            first = message[0] if message else f"exit code {code}"
            raise GitError(f"git {args[0]} failed: {first}")
        return out

    def run_status(
        self, args: Sequence[str], stdin: bytes | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run one git command: its exit code, standard output and standard error."""
        self.processes += 1
        try:
            done = subprocess.run(
                [*_BASE_ARGS, *args],
                cwd=self.root,
                input=stdin,
                capture_output=True,
                check=False,
                env=self.env,
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        return done.returncode, done.stdout, done.stderr

    def resolve(self, ref: str) -> str:
        """The commit id ``ref`` names."""
        try:
            out = self.run(["rev-parse", "--verify", "--quiet", f"{_safe_ref(ref)}^{{commit}}"])
        except GitError:
            raise GitError(
                f"unknown revision {ref!r}", "is it fetched? in Actions use fetch-depth: 0"
            ) from None
        return out.decode().strip()

    def resolve_all(self, refs: list[str]) -> list[str]:
        """The commit ids of several refs in one process (errors name the bad ref)."""
        try:
            out = self.run(["rev-parse", *(f"{_safe_ref(r)}^{{commit}}" for r in refs)])
        except GitError:
            return [self.resolve(ref) for ref in refs]  # finds and names the bad one
        shas = out.decode().split()
        if len(shas) != len(refs):
            return [self.resolve(ref) for ref in refs]
        return shas

    def merge_base(self, a: str, b: str) -> str:
        """The best common ancestor of two commits."""
        try:
            return self.run(["merge-base", a, b]).decode().strip()
        except GitError:
            raise GitError(
                f"no common ancestor of {a[:12]} and {b[:12]}",
                "shallow clone? use fetch-depth: 0",
            ) from None

    def diff(self, base: str, head: str | None, paths: Iterable[str]) -> list[RawChange]:
        """Changed paths below ``paths`` between ``base`` and ``head`` (None: the working tree).

        Renames are reported as a deletion plus an addition. For the working tree, a changed
        file's new blob is ``NULL_SHA``: read it from disk.
        """
        args = [
            "diff",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            base,
        ]
        if head is not None:
            args.append(head)
        out = self.run([*args, "--", *paths])
        return _parse_raw(out)

    def untracked(self, paths: Iterable[str]) -> list[str]:
        """Untracked, not ignored files below ``paths`` in the working tree."""
        out = self.run(["ls-files", "-z", "--others", "--exclude-standard", "--", *paths])
        return [p for p in out.decode().split("\0") if p]

    def tree(self, commit: str, paths: Iterable[str]) -> list[tuple[str, str]]:
        """``(blob id, path)`` of every file below ``paths`` at ``commit``."""
        out = self.run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths])
        entries = []
        for record in out.decode().split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            _mode, kind, blob = meta.split(" ")
            if kind == "blob":
                entries.append((blob, path))
        return entries

    def entries(self, treeish: str, paths: Iterable[str]) -> list[TreeEntry]:
        """Every entry below ``paths`` at ``treeish`` with its mode, symlinks and submodule
        entries included (``paths`` empty: the whole tree)."""
        out = self.run(["ls-tree", "-r", "-z", "--full-tree", _safe_ref(treeish), "--", *paths])
        entries = []
        for record in out.decode().split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                mode, _kind, oid = meta.split(" ")
                entries.append(TreeEntry(mode, oid, path))
        return entries

    def merge_tree(self, base: str, head: str) -> MergeResult:
        """The tree that merging ``head`` into ``base`` produces, without touching the index or
        the working tree (``git merge-tree --write-tree``, git 2.38 or newer)."""
        args = ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"]
        code, out, err = self.run_status([*args, _safe_ref(base), _safe_ref(head)])
        if code not in (0, 1):
            first = err.decode(errors="replace").strip().splitlines()
            reason = first[0] if first else f"exit code {code}"
            if "--write-tree" in reason or "unknown option" in reason or "usage:" in reason:
                raise GitError(
                    f"git {self.version_text()} cannot compute a merge result",
                    "flaggate needs git 2.38 or newer (git merge-tree --write-tree)",
                )
            raise GitError(f"git merge-tree failed: {reason}")
        fields = out.decode().split("\0")
        conflicts = tuple(dict.fromkeys(f for f in fields[1:] if f)) if code == 1 else ()
        return MergeResult(fields[0].strip(), conflicts)

    def version_text(self) -> str:
        """``2.39.5``: the version of the git on PATH."""
        return self.run(["version"]).decode().strip().removeprefix("git version ")

    def attributes(self, treeish: str | None, paths: Sequence[str]) -> dict[str, dict[str, str]]:
        """The git attributes set on each path, as ``.gitattributes`` files in ``treeish``
        (None: the working tree) define them, plus the repository's own attribute files.

        Values: ``set``, ``unset`` or the attribute's value; unspecified ones are left out.
        """
        if not paths:
            return {}
        request = "".join(f"{path}\0" for path in paths).encode()
        if treeish is None:
            out = self.run(["check-attr", "-z", "--stdin", "-a"], stdin=request)
        else:
            with tempfile.TemporaryDirectory(prefix="flaggate-index-") as scratch:
                # An index of its own holds the tree's .gitattributes files for check-attr.
                index = Git(self.root, {"GIT_INDEX_FILE": str(Path(scratch) / "index")})
                index.run(["read-tree", _safe_ref(treeish)])
                out = index.run(["check-attr", "--cached", "-z", "--stdin", "-a"], stdin=request)
                self.processes += index.processes
        found: dict[str, dict[str, str]] = {}
        fields = out.decode().split("\0")
        for i in range(0, len(fields) - 2, 3):
            path, name, value = fields[i : i + 3]
            found.setdefault(path, {})[name] = value
        return found

    def _cat_file_batch(self) -> subprocess.Popen[bytes]:
        self.processes += 1
        return subprocess.Popen(
            [*_BASE_ARGS, "cat-file", "--batch"],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def read_blobs(self, blobs: Iterable[str], limit: int) -> dict[str, bytes | int]:
        """Contents of many blobs through one streaming ``cat-file --batch`` process.

        A blob larger than ``limit`` bytes is skipped while streaming (bounded memory): its
        size (an int) stands in its place.
        """
        wanted = sorted({b for b in blobs if b != NULL_SHA})
        if not wanted:
            return {}
        proc = self._cat_file_batch()
        assert proc.stdin is not None and proc.stdout is not None
        request = ("\n".join(wanted) + "\n").encode()
        # A separate writer keeps a long request from filling both pipes at once.
        writer = threading.Thread(target=_write_and_close, args=(proc.stdin, request))
        writer.start()
        result: dict[str, bytes | int] = {}
        try:
            for blob in wanted:
                header = proc.stdout.readline().decode().split()
                if len(header) < 3 or header[1] != "blob":
                    raise GitError(f"blob {blob} is missing from the repository")
                size = int(header[2])
                if size <= limit:
                    result[blob] = _read_exactly(proc.stdout, size)
                else:
                    _skip(proc.stdout, size)
                    result[blob] = size
                proc.stdout.read(1)
        finally:
            writer.join()
            proc.stdout.close()
            proc.wait()
        return result

    def history(self, commit: str, path: str) -> Generator[tuple[str, int, str], None, None]:
        """``(commit id, committer time, path there)`` of the commits that changed ``path``,
        newest first, following renames.

        Follows the first parent (the history of the branch itself, merges included as the
        moment a change arrived). Streams: stopping the iteration early stops git.
        """
        self.processes += 1
        proc = subprocess.Popen(
            [
                *_BASE_ARGS,
                "log",
                "--first-parent",
                "--follow",
                "--name-only",
                "--format=%x00%H %ct",
                _safe_ref(commit),
                "--",
                path,
            ],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        finished = False
        try:
            header: tuple[str, int] | None = None
            for raw in proc.stdout:
                line = raw.decode().rstrip("\n")
                if line.startswith("\0"):
                    sha, _, seconds = line[1:].partition(" ")
                    header = (sha, int(seconds))
                elif line and header is not None:
                    yield header[0], header[1], line
                    header = None
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            error = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            code = proc.wait()
        if code != 0:
            raise GitError(f"git log failed: {error.splitlines()[0] if error else code}")

    @contextmanager
    def file_reader(self, limit: int) -> Iterator[FileReader]:
        """A reader of ``commit:path`` contents through one ``cat-file --batch`` process."""
        proc = self._cat_file_batch()
        try:
            yield FileReader(proc, limit)
        finally:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.stdout.close()
            proc.wait()

    def commit_time(self, commit: str) -> int:
        """The committer time of ``commit`` (seconds since the epoch)."""
        return int(self.run(["show", "-s", "--format=%ct", _safe_ref(commit), "--"]).strip())

    def shallow_boundary(self) -> frozenset[str]:
        """The commits where a shallow clone's history is cut off (empty when it is not)."""
        path = self.run(["rev-parse", "--git-path", "shallow"]).decode().strip()
        try:
            return frozenset((self.root / path).read_text().split())
        except FileNotFoundError:
            return frozenset()


class FileReader:
    """Reads files at commits on demand from a running ``git cat-file --batch``."""

    def __init__(self, proc: subprocess.Popen[bytes], limit: int) -> None:
        self._proc = proc
        self._limit = limit

    def read(self, commit: str, path: str) -> bytes | int | None:
        """The file's bytes, its size when over the limit, or None when it does not exist."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        if "\n" in path:
            raise GitError(f"unsupported file name {path!r}")
        stdin.write(f"{commit}:{path}\n".encode())
        stdin.flush()
        header = stdout.readline().decode().split()
        if len(header) == 2 and header[1] == "missing":
            return None
        if len(header) < 3:
            raise GitError(f"git cat-file ended early reading {commit[:12]}:{path}")
        size = int(header[2])
        if header[1] != "blob":
            _skip(stdout, size)
            stdout.read(1)
            return None
        if size > self._limit:
            _skip(stdout, size)
            stdout.read(1)
            return size
        data = _read_exactly(stdout, size)
        stdout.read(1)
        return data


# --- writing commits to a branch -------------------------------------------------------------

BOT_IDENTITY = ("flaggate", "flaggate@users.noreply.github.com")
"""Author and committer of the commits flaggate writes (audit log, published exports)."""

_RACE_SIGNS = ("(fetch first)", "(non-fast-forward)", "(stale info)", "but expected")
_PRIVATE_REFS = "refs/flaggate/write"

T = TypeVar("T")


@dataclass(frozen=True)
class Planned(Generic[T]):
    """What one attempt writes on top of the branch's tip: ``files`` (path -> bytes; none:
    nothing to write) and a ``value`` handed back to the caller. With ``replace`` the new tree
    holds exactly ``files``; otherwise they are written over the tip's tree."""

    files: Mapping[str, bytes]
    value: T
    replace: bool = False


@dataclass(frozen=True)
class BranchWrite(Generic[T]):
    """What :func:`write_branch` did: the new commit (None: nothing to write), the attempts
    used and the value of the plan that was written (or found to have nothing to write)."""

    commit: str | None
    attempts: int
    value: T


class BranchWriteError(GitError):
    """Every attempt to write the branch failed; nothing was written."""

    def __init__(self, target: str, attempts: int, failures: Sequence[str]) -> None:
        self.target = target
        self.failures = list(failures)
        races = sum(1 for f in failures if any(sign in f for sign in _RACE_SIGNS))
        raced = f" ({races} of them lost a race with another writer)" if races else ""
        self.tail = f"{target} in {attempts} attempt(s){raced}; last: {failures[-1]}"
        """Where, how many attempts and the last failure: ``origin/x in 5 attempt(s); last: …``."""
        super().__init__(f"could not write {self.tail}")


def write_branch(
    git: Git,
    branch: str,
    plan: Callable[[str | None, Mapping[str, str | None]], Planned[T]],
    *,
    message: str | Callable[[T], str],
    also: Sequence[str] = (),
    remote: str = "origin",
    attempts: int = 5,
    identity: tuple[str, str] = BOT_IDENTITY,
    backoff: float = 0.5,
) -> BranchWrite[T]:
    """Commit what ``plan`` returns on top of ``branch`` and publish it with a compare-and-swap,
    without touching the working tree, the index or the local branches.

    Each attempt fetches the tips of ``branch`` and of the branches in ``also`` in one fetch (one
    consistent snapshot of the remote's refs) into private refs, and calls ``plan(tip, tips)``
    with the branch's tip (None: no such branch yet) and ``also``'s tips by name. Its files are
    committed with ``message`` (or the message ``message(value)`` gives for the plan's value)
    committed (plumbing in a temporary index) as a child of the tip and pushed: the push is
    accepted only as a fast-forward of that tip, so a writer that lost a race tries again from
    the new tip after a random pause (up to ``backoff * 2 ** (n - 2)`` seconds before attempt
    ``n``). Without any remote the local branches are read and ``update-ref`` with the old
    value is the compare-and-swap. Raises :class:`BranchWriteError` after ``attempts``
    failures (nothing written); errors of ``plan`` propagate.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    branch = branch.removeprefix("refs/heads/")
    remotes = git.run(["remote"]).decode().split()
    if remotes and remote not in remotes:
        raise GitError(
            f"no git remote {remote!r} to write branch {branch} to",
            f"remotes here: {', '.join(remotes)}",
        )
    target = f"{remote}/{branch}" if remotes else f"local branch {branch}"
    private = f"{_PRIVATE_REFS}/{os.getpid()}-{secrets.token_hex(4)}" if remotes else None
    names = [branch, *also]
    shallow = bool(remotes) and git.run(["rev-parse", "--is-shallow-repository"]).strip() == b"true"
    depth = ["--depth=1"] if shallow else []
    failures: list[str] = []
    try:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(random.uniform(0, backoff * 2 ** (attempt - 2)))
            try:
                tips = (
                    _fetch_tips(git, remote, names, private, depth)
                    if private
                    else _local_tips(git, names)
                )
            except GitError as exc:
                failures.append(f"fetching {target}: {exc}")
                continue
            tip = tips[branch]
            planned = plan(tip, {name: tips[name] for name in also})
            if not planned.files and not planned.replace:
                return BranchWrite(None, attempt, planned.value)
            text = message if isinstance(message, str) else message(planned.value)
            commit = _commit_files(git, tip, planned, text, identity)
            if private is not None:
                failure = _push(git, remote, commit, branch)
            else:
                failure = _move_branch(git, branch, commit, tip)
            if failure is None:
                return BranchWrite(commit, attempt, planned.value)
            failures.append(failure)
    finally:
        if private is not None:
            for name in names:
                with contextlib.suppress(GitError):  # nothing was fetched into it
                    git.run(["update-ref", "-d", f"{private}/{name}"])
    raise BranchWriteError(target, attempts, failures)


def ref_commit(git: Git, ref: str) -> str | None:
    """The commit ``ref`` names, or None when there is no such ref."""
    try:
        out = git.run(["rev-parse", "--verify", "--quiet", f"{_safe_ref(ref)}^{{commit}}"])
    except GitError:
        return None
    return out.decode().strip()


def _local_tips(git: Git, names: Sequence[str]) -> dict[str, str | None]:
    return {name: ref_commit(git, f"refs/heads/{name}") for name in names}


def _fetch_tips(
    git: Git, remote: str, names: Sequence[str], private: str, depth: Sequence[str]
) -> dict[str, str | None]:
    """The remote tips of ``names`` (None: no such branch), fetched in one fetch into refs
    below ``private`` (``depth``: ``--depth=1`` in a shallow clone, which needs only tips)."""
    specs = {name: f"+refs/heads/{name}:{private}/{name}" for name in names}
    fetch = ["fetch", "--quiet", "--no-tags", *depth, remote]
    try:
        git.run([*fetch, *specs.values()])
    except GitError as exc:
        if "couldn't find remote ref" not in str(exc).lower():
            raise
        # A branch not created yet fails the whole fetch: ask which exist, fetch those.
        listed = git.run(["ls-remote", "--heads", remote, *(f"refs/heads/{n}" for n in names)])
        present = {line.partition("\t")[2] for line in listed.decode().splitlines()}
        found = [spec for name, spec in specs.items() if f"refs/heads/{name}" in present]
        if found:
            git.run([*fetch, *found])
    listed = git.run(["for-each-ref", "--format=%(refname) %(objectname)", f"{private}/"])
    tips = dict(line.split(" ", 1) for line in listed.decode().splitlines())
    return {name: tips.get(f"{private}/{name}") for name in names}


def _commit_files(
    git: Git, parent: str | None, planned: Planned[T], message: str, identity: tuple[str, str]
) -> str:
    """A commit, child of ``parent``, of the planned files, built in a temporary index."""
    name, email = identity
    with tempfile.TemporaryDirectory(prefix="flaggate-commit-") as temp:
        env = {
            **(git.env or {}),
            "GIT_INDEX_FILE": str(Path(temp) / "index"),
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        plumbing = Git(git.root, env)
        try:
            start = (
                ["read-tree", parent]
                if parent and not planned.replace
                else ["read-tree", "--empty"]
            )
            plumbing.run(start)
            entries = []
            for path, data in planned.files.items():
                blob = plumbing.run(["hash-object", "-w", "--stdin"], stdin=data)
                entries.append(f"100644 {blob.decode().strip()}\t{path}\n")
            if entries:
                plumbing.run(
                    ["update-index", "--add", "--index-info"], stdin="".join(entries).encode()
                )
            tree = plumbing.run(["write-tree"]).decode().strip()
            args = ["commit-tree", tree, "-m", message]
            if parent:
                args += ["-p", parent]
            return plumbing.run(args).decode().strip()
        finally:
            git.processes += plumbing.processes


def _push(git: Git, remote: str, commit: str, branch: str) -> str | None:
    """Push ``commit`` to the remote branch (a fast-forward only): None, or why it failed."""
    # Not through Git.run: the reason of a rejection is on stdout (--porcelain) and in the
    # "remote:" lines, which a failed Git.run does not return.
    code, out_bytes, err_bytes = git.run_status(
        ["push", "--porcelain", remote, f"{commit}:refs/heads/{branch}"]
    )
    if code == 0:
        return None
    out = out_bytes.decode(errors="replace").splitlines()
    err = err_bytes.decode(errors="replace").splitlines()
    status = [line.split("\t")[-1] for line in out if line.startswith("!")]
    said = [line.strip() for line in err if line.startswith("remote:") and line[7:].strip()]
    fatal = [line.strip() for line in err if line.startswith(("fatal:", "error:"))]
    reasons = status + said[:3] or fatal[:2] or [f"exit code {code}"]
    return f"push to {remote}/{branch} rejected: " + "; ".join(reasons)


def _move_branch(git: Git, branch: str, commit: str, old: str | None) -> str | None:
    """Move the local branch from ``old`` (None: create it): None, or why it failed."""
    try:
        git.run(["update-ref", f"refs/heads/{branch}", commit, old or NULL_SHA])
    except GitError as exc:
        return f"updating local branch {branch}: {exc}"
    return None


def _write_and_close(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except BrokenPipeError:  # git stopped early; the reader reports why
        pass


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise GitError("git cat-file ended early")
    return data


def _skip(stream: IO[bytes], size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, 1 << 16))
        if not chunk:
            raise GitError("git cat-file ended early")
        size -= len(chunk)


def _safe_ref(ref: str) -> str:
    # A ref is never an option: refuse what git would read as one.
    if not ref or ref.startswith("-"):
        raise GitError(f"invalid revision {ref!r}")
    return ref


def _parse_raw(out: bytes) -> list[RawChange]:
    fields = out.decode().split("\0")
    changes = []
    i = 0
    while i + 1 < len(fields) and fields[i]:
        meta = fields[i].lstrip(":").split(" ")
        path = fields[i + 1]
        changes.append(RawChange(meta[4][0], path, meta[2], meta[3], meta[0], meta[1]))
        i += 2
    return changes
