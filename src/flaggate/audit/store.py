"""Appending audit records to the log in git: no checkout, safe under concurrent merges.

The new commit is built with plumbing (blobs, a temporary index, ``commit-tree``) on top of
the remote tip and pushed; a rejected push (another merge appended first) fetches the new
tip, re-chains the records onto it and tries again, a bounded number of times, then fails
loudly. Records already in their month file (same id) are skipped, so re-runs add nothing.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flaggate.audit.record import GENESIS, Record, chain, dumps
from flaggate.errors import FlaggateError, GitError
from flaggate.git import Git
from flaggate.model.settings import Audit

IDENTITY = ("flaggate", "flaggate@users.noreply.github.com")
_TIP = "refs/flaggate/audit-tip"


class AuditAppendError(FlaggateError):
    """The records could not be appended; nothing was dropped silently."""


@dataclass(frozen=True)
class AppendResult:
    """What an append did."""

    appended: int
    skipped: int
    commit: str | None
    attempts: int
    records: list[Record] = field(default_factory=list)
    """The appended records, chained (with ``prevHash`` and ``hash``)."""


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
) -> AppendResult:
    """Append un-chained ``records`` (each with ``id`` and ``timestamp``) in order."""
    branch = default_branch if audit.path else (audit.branch or "flaggate-audit")
    root = f"{audit.path.strip('/')}/{audit.dir}" if audit.path else audit.dir
    has_remote = remote in git.run(["remote"]).decode().split()
    last_error = ""
    for attempt in range(1, attempts + 1):
        tip = _fetch_tip(git, remote, branch) if has_remote else _local_tip(git, branch)
        plan = _plan(git, tip, root, records)
        if not plan.new:
            return AppendResult(0, plan.skipped, tip, attempt)
        commit = _commit(git, tip, plan.files, message, identity)
        try:
            if has_remote:
                git.run(["push", "--quiet", remote, f"{commit}:refs/heads/{branch}"])
            else:
                git.run(["update-ref", f"refs/heads/{branch}", commit, tip or "0" * 40])
        except GitError as exc:
            last_error = str(exc)
            continue
        return AppendResult(len(plan.new), plan.skipped, commit, attempt, plan.new)
    raise AuditAppendError(
        f"could not append {len(records)} audit record(s) to {branch} after {attempts} "
        f"attempts: {last_error}",
        "re-run the workflow: records already written are skipped",
    )


@dataclass
class _Plan:
    new: list[Record]
    skipped: int
    files: dict[str, bytes]


def _plan(git: Git, tip: str | None, root: str, records: Sequence[Record]) -> _Plan:
    """The records still missing, chained onto the log's last hash, and the new files."""
    entries = {path: blob for blob, path in git.tree(tip, [root])} if tip else {}
    months = sorted(p for p in entries if p.endswith(".jsonl") and "/archive/" not in p)
    archives = sorted(p for p in entries if p.endswith(".jsonl.gz"))
    by_month: dict[str, list[Record]] = {}
    for record in records:
        stamp = str(record["timestamp"])
        by_month.setdefault(f"{root}/{stamp[:4]}/{stamp[5:7]}.jsonl", []).append(record)
    wanted = sorted(set(months) | set(by_month))
    contents = git.read_blobs([entries[p] for p in wanted if p in entries], 1 << 62)
    text = {p: bytes(contents[entries[p]]) if p in entries else b"" for p in wanted}
    previous = _last_hash(git, entries, months, archives, text)
    new: list[Record] = []
    skipped = 0
    files: dict[str, bytes] = {}
    for path in sorted(by_month):
        known = {json.loads(line)["id"] for line in text[path].splitlines() if line.strip()}
        missing = [r for r in by_month[path] if r["id"] not in known]
        skipped += len(by_month[path]) - len(missing)
        if not missing:
            continue
        linked = list(chain(missing, previous))
        previous = linked[-1]["hash"]
        new += linked
        body = text[path]
        if body and not body.endswith(b"\n"):
            body += b"\n"
        files[path] = body + "".join(dumps(r) + "\n" for r in linked).encode()
    return _Plan(new, skipped, files)


def _last_hash(
    git: Git,
    entries: dict[str, str],
    months: list[str],
    archives: list[str],
    text: dict[str, bytes],
) -> str:
    """The hash of the log's last record: the latest month file, else the latest archive."""
    for path in reversed(months):
        lines = [line for line in text.get(path, b"").splitlines() if line.strip()]
        if lines:
            return str(json.loads(lines[-1])["hash"])
    for path in reversed(archives):
        data = git.read_blobs([entries[path]], 1 << 62)[entries[path]]
        lines = [ln for ln in gzip.decompress(bytes(data)).splitlines() if ln.strip()]
        if lines:
            return str(json.loads(lines[-1])["hash"])
    return GENESIS


def _fetch_tip(git: Git, remote: str, branch: str) -> str | None:
    try:
        git.run(["fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{_TIP}"])
    except GitError as exc:
        if "couldn't find remote ref" in str(exc).lower():
            return None
        raise AuditAppendError(f"cannot fetch {branch} from {remote}: {exc}") from None
    return git.run(["rev-parse", "--verify", _TIP]).decode().strip()


def _local_tip(git: Git, branch: str) -> str | None:
    try:
        return (
            git.run(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"]).decode().strip()
        )
    except GitError:
        return None


def _commit(
    git: Git, parent: str | None, files: dict[str, bytes], message: str, identity: tuple[str, str]
) -> str:
    """A commit: the parent's tree with ``files`` replaced, built in a temporary index."""
    name, email = identity
    with tempfile.TemporaryDirectory(prefix="flaggate-audit-") as tmp:
        env = {
            "GIT_INDEX_FILE": str(Path(tmp) / "index"),
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        git_env = Git(git.root, env)
        if parent:
            git_env.run(["read-tree", parent])
        else:
            git_env.run(["read-tree", "--empty"])
        for path, data in files.items():
            blob = git_env.run(["hash-object", "-w", "--stdin"], stdin=data).decode().strip()
            git_env.run(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"])
        tree = git_env.run(["write-tree"]).decode().strip()
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        commit = git_env.run(args).decode().strip()
    git.processes += git_env.processes
    return commit
