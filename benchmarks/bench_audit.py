#!/usr/bin/env python3
"""Benchmark reading the audit log: `flaggate audit verify`, a filtered `query`, and `export`.

It generates a git repository whose branch ``flaggate-audit`` holds N realistic records
(default 1,000,000; chained, spread over the 12 months of 2025 in ``audit/2025/MM.jsonl``;
flag changes with states, gates and tickets, approvals, a few emergency bypasses and policy
edits, shaped like the records ``flaggate.audit.collect`` builds), committed with plumbing
(one loose object per month, or a pack with ``--pack``). Then it times each command as a
subprocess (wall seconds, Python start-up included; ``--repeat`` runs, median and minimum),
records each run's peak memory (``wait4``), and prints a Markdown table. Last, it archives 11
months and times ``verify`` and the query again over the gzip archives.

Generating a million records takes a few minutes (hashing is sequential: each record holds
the previous record's hash): ``--dir DIR`` generates the repository into ``DIR`` once and
reuses it on later runs (the audit branch is reset to the generated log first, as ``archive``
moves it), and ``--only verify`` times one scenario. Each run's CPU time (user + system, of
the command and the processes it waited for) is printed next to its wall time: it depends
less on the load of a shared machine. Run ``python benchmarks/bench_audit.py --help`` for the
options.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TARGET_SECONDS = 10.0
VERIFY_TARGET_SECONDS = 3.0
"""`audit verify` of a million records; every other targeted scenario: TARGET_SECONDS."""
ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
ENVIRONMENTS = ("development", "staging", "production")
STAGES = ("technical-review", "business-review", "security-review")
ROLES = ("tech-lead", "senior-engineer", "product-owner", "security")
GATE_NAMES = ("promotion", "freeze", "checks", "error-rate")


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _state(rng: random.Random, enabled: bool) -> dict[str, Any]:
    rollout = None
    if enabled and rng.random() < 0.4:
        share = rng.choice((5, 10, 25, 50, 75))
        rollout = {"on": share, "off": 100 - share}
    return {
        "enabled": enabled,
        "variant": "on" if enabled else "off",
        "rollout": rollout,
        "targeting": None,
        "variants": {"off": False, "on": True},
    }


def records(count: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """Un-chained records in time order over 2025, a merge at a time."""
    rng = random.Random(seed)
    start, end = 1735689600, 1767225600  # 2025-01-01, 2026-01-01 (UTC)
    step = (end - start) / count
    users = [f"user-{i:03d}" for i in range(300)]
    flags = [f"team-{i % 40:02d}-flag-{i:05d}" for i in range(5000)]
    made = 0
    pull = 1000
    while made < count:
        pull += 1
        moment = _iso(int(start + made * step))
        author = rng.choice(users)
        merge_sha = f"{rng.getrandbits(160):040x}"
        ticket = f"FEAT-{rng.randrange(1, 5000)}" if rng.random() < 0.8 else None
        bypass = rng.random() < 0.005
        incident = f"INC-{rng.randrange(100, 999)}" if bypass else None
        context = {
            "repository": "acme/feature-flags",
            "pullRequest": pull,
            "mergeSha": merge_sha,
            "mergedBy": rng.choice(users),
            "ticketId": ticket,
            "incidentId": incident,
            "approvalWorkflowId": f"https://github.com/acme/feature-flags/actions/runs/{pull * 7}",
        }
        batch: list[dict[str, Any]] = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            flag = rng.choice(flags)
            environment = rng.choice(ENVIRONMENTS)
            kind = rng.choices(("toggled", "updated", "created", "deleted"), (40, 45, 10, 5))[0]
            if rng.random() < 0.02:
                batch.append(_policy(author, context, moment))
                continue
            previous = None if kind == "created" else _state(rng, rng.random() < 0.5)
            new = None if kind == "deleted" else _state(rng, rng.random() < 0.6)
            gates = [
                {
                    "name": name,
                    "kind": name,
                    "status": rng.choice(("passed", "passed", "passed", "skipped")),
                    "message": f"{name}: staging served on for 36h (min 24h)",
                }
                for name in rng.sample(GATE_NAMES, rng.randrange(0, 3))
            ]
            batch.append(
                _base(
                    f"flag.{kind}",
                    {"login": author, "id": 10_000 + users.index(author)},
                    {"type": "flag", "id": flag, "name": flag, "environment": environment},
                    {
                        "type": kind,
                        "previousState": previous,
                        "newState": new,
                        "metadata": {
                            "types": [kind] + (["rollout"] if new and new["rollout"] else []),
                            "rolloutDelta": 0,
                            "path": f"flags/{flag[:7]}/{flag}.yaml",
                            "rule": "production-changes"
                            if environment == "production"
                            else "default",
                            "stages": list(STAGES[:2]) if environment == "production" else [],
                            "gates": gates,
                        },
                    },
                    context,
                    moment,
                )
            )
        for stage in STAGES[: rng.choice((1, 2, 2))]:
            batch.append(
                _base(
                    "approval.approved",
                    {"login": rng.choice(users), "id": None},
                    {"type": "approval", "id": stage, "name": stage, "environment": None},
                    {
                        "type": "approved",
                        "previousState": None,
                        "newState": None,
                        "metadata": {
                            "stage": stage,
                            "role": rng.choice(ROLES),
                            "reviewedAt": moment,
                            "rules": ["production-changes"],
                        },
                    },
                    context,
                    moment,
                )
            )
        if bypass:
            batch.append(
                _base(
                    "approval.bypassed",
                    {"login": author, "id": None},
                    {"type": "approval", "id": "emergency", "name": "emergency bypass"},
                    {
                        "type": "bypassed",
                        "previousState": None,
                        "newState": None,
                        "metadata": {
                            "role": "sre",
                            "incident": incident,
                            "severity": "SEV1",
                            "justification": 'Checkout is down, "rollback", see #incidents\n'
                            "follow-up in the review",
                        },
                    },
                    context,
                    moment,
                )
            )
        for index, item in enumerate(batch):
            if made == count:
                return
            raw = f"acme/feature-flags#{pull}@{merge_sha}/{index}".encode()
            digest = hashlib.sha1(raw).hexdigest()
            item["id"] = (
                f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
            )
            made += 1
            yield item


def _policy(author: str, context: dict[str, Any], moment: str) -> dict[str, Any]:
    return _base(
        "policy.updated",
        {"login": author, "id": None},
        {"type": "policy", "id": "policies/rules.yaml", "name": "policies/rules.yaml"},
        {
            "type": "updated",
            "previousState": None,
            "newState": None,
            "metadata": {"types": ["updated"], "path": "policies/rules.yaml"},
        },
        context,
        moment,
    )


def _base(
    event: str,
    actor: dict[str, Any],
    resource: dict[str, Any],
    action: dict[str, Any],
    context: dict[str, Any],
    moment: str,
) -> dict[str, Any]:
    resource.setdefault("environment", None)
    return {
        "timestamp": moment,
        "eventType": event,
        "actor": {"name": None, "email": None, **actor},
        "resource": resource,
        "action": action,
        "context": context,
        "outcome": {"success": True, "errorCode": None, "errorMessage": None},
    }


def chained_lines(items: Iterator[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``(month, line)``: the hash chain, written as :func:`flaggate.audit.record.dumps` does
    (canonical JSON, the ``hash`` member inserted in its sorted place)."""
    previous = "0" * 64
    for item in items:
        item["prevHash"] = previous
        body = ENCODER.encode(item)
        previous = hashlib.sha256(body.encode()).hexdigest()
        at = body.index(',"id":"', body.index('"eventType":"'))
        yield item["timestamp"][5:7], f'{body[:at]},"hash":"{previous}"{body[at:]}'


def _check_against_record_module(sample: int = 200) -> None:
    """The generator's lines are exactly what flaggate's own chain() and dumps() produce."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from flaggate.audit.record import chain, dumps

    ours = [line for _, line in chained_lines(records(sample))]
    theirs = [dumps(r) for r in chain(records(sample))]
    assert ours == theirs, "generated lines differ from flaggate.audit.record"


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout.decode().strip()


def generate(repo: Path, count: int, pack: bool) -> tuple[int, float]:
    """The repository with the log on ``flaggate-audit``; returns (bytes of JSON, seconds)."""
    started = time.perf_counter()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    month_dir = repo / ".months"
    month_dir.mkdir()
    streams: dict[str, Any] = {}
    size = 0
    with contextlib.ExitStack() as files:
        for month, line in chained_lines(records(count)):
            stream = streams.get(month)
            if stream is None:
                path = month_dir / f"{month}.jsonl"
                stream = streams[month] = files.enter_context(open(path, "w", encoding="utf-8"))
            stream.write(line + "\n")
            size += len(line) + 1
    months = sorted(streams)
    paths = "\n".join(str(month_dir / f"{m}.jsonl") for m in months) + "\n"
    blobs = git(repo, "hash-object", "-w", "--stdin-paths", stdin=paths.encode()).split()
    year = "".join(f"100644 blob {b}\t{m}.jsonl\n" for m, b in zip(months, blobs, strict=True))
    year_tree = git(repo, "mktree", stdin=year.encode())
    audit_tree = git(repo, "mktree", stdin=f"040000 tree {year_tree}\t2025\n".encode())
    root_tree = git(repo, "mktree", stdin=f"040000 tree {audit_tree}\taudit\n".encode())
    env_args = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    commit = git(repo, *env_args, "commit-tree", root_tree, "-m", "audit: generated")
    git(repo, "update-ref", "refs/heads/flaggate-audit", commit)
    git(repo, "update-ref", _generated_ref(count, pack), commit)
    shutil.rmtree(month_dir)
    if pack:
        git(repo, "repack", "-a", "-d", "-q")
    return size, time.perf_counter() - started


def timed(command: list[str], cwd: Path) -> tuple[float, int, float, int, float]:
    """(wall seconds, exit code, peak RSS MiB, stdout lines, CPU seconds) of one run; CPU
    is user + system of the command and of the processes it waited for."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = sum(1 for _ in out)
        err.seek(0)
        message = err.read().decode(errors="replace")
    if proc.returncode != 0:
        print(f"  ! {' '.join(command)} -> exit {proc.returncode}\n{message}", file=sys.stderr)
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, proc.returncode, usage.ru_maxrss / 1024, lines, cpu


def reuse(repo: Path, count: int, pack: bool) -> int | None:
    """The JSON bytes of a repository generated earlier with ``count`` records (its audit
    branch reset to the generated log), or None when there is none."""
    ref = _generated_ref(count, pack)
    if not repo.is_dir():
        return None
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        return None
    git(repo, "update-ref", "refs/heads/flaggate-audit", found.stdout.strip())
    listing = git(repo, "ls-tree", "-r", "-l", ref, "--", "audit")
    return sum(int(row.split()[3]) for row in listing.splitlines())


def _generated_ref(count: int, pack: bool) -> str:
    return f"refs/bench/generated-{count}" + ("-packed" if pack else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pack", action="store_true", help="repack the objects (as after gc)")
    parser.add_argument("--full", action="store_true", help="also time `verify --full` once")
    parser.add_argument("--whole-year-export", action="store_true", help="also export all")
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="generate the repository into DIR once and reuse it on later runs",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="time only the scenarios whose name holds TEXT (repeatable); the archive step "
        "and the runs after it only for a TEXT that holds 'archived'",
    )
    parser.add_argument(
        "--flaggate",
        default=None,
        help="the flaggate command (default: this Python with -m flaggate)",
    )
    args = parser.parse_args()
    flaggate = [args.flaggate] if args.flaggate else [sys.executable, "-m", "flaggate"]
    _check_against_record_module()
    temp = Path(tempfile.mkdtemp(prefix="flaggate-bench-audit-"))
    repo = args.dir.resolve() if args.dir else temp / "repo"
    failed = False
    try:
        size = reuse(repo, args.records, args.pack) if args.dir else None
        if size is None:
            if repo.exists():
                raise SystemExit(f"{repo} exists and holds no log of {args.records:,} records")
            size, seconds = generate(repo, args.records, args.pack)
            print(
                f"generated {args.records:,} records ({size / 2**20:,.0f} MiB of JSON Lines, "
                f"{size / args.records:.0f} B/record, 12 months) in {seconds:.0f} s"
                + (" (packed)" if args.pack else " (loose objects)"),
                file=sys.stderr,
            )
        else:
            print(f"reusing {repo} ({size / 2**20:,.0f} MiB of JSON Lines)", file=sys.stderr)
        query = [
            "audit", "query", "--type", "flag.toggled", "--env", "production",
            "--since", "2025-07-01", "--until", "2025-09-30", "--format", "jsonl",
        ]  # fmt: skip
        scenarios: list[tuple[str, list[str], int, bool]] = [
            ("verify", ["audit", "verify"], args.repeat, True),
            ("query (type, env, one quarter)", query, args.repeat, True),
            (
                "query --actor (0.3% of records), table",
                ["audit", "query", "--actor", "user-007"],
                args.repeat,
                False,
            ),
            (
                "export CSV, one month",
                ["audit", "export", "--from", "2025-03-01", "--to", "2025-03-31"],
                args.repeat,
                False,
            ),
            (
                "export JSON, one month",
                ["audit", "export", "--from", "2025-03", "--to", "2025-03", "--format", "json"],
                args.repeat,
                False,
            ),
        ]
        if args.whole_year_export:
            scenarios.append(("export CSV, whole year", ["audit", "export"], 1, False))
        if args.full:
            scenarios.append(("verify --full", ["audit", "verify", "--full"], 1, False))
        archive = ["audit", "archive", "--older-than", "0", "--at", "2026-01-15T00:00:00Z"]
        archived = [(f"{name}, 11 months archived", *rest) for name, *rest in scenarios[:2]]

        def wanted(name: str) -> bool:
            found = [text for text in args.only if text in name]
            return not args.only or any(
                "archived" in text or "archived" not in name for text in found
            )

        rows = []
        for name, command, repeat, targeted in scenarios:
            if wanted(name):
                rows.append(_measure(name, flaggate, command, repo, repeat, targeted))
        if any(wanted(name) for name, *_ in archived):
            label = "archive 11 months (gzip, one commit)"
            rows.append(_measure(label, flaggate, archive, repo, 1))
            for name, command, _, targeted in archived:
                if wanted(name):
                    rows.append(_measure(name, flaggate, command, repo, args.repeat, targeted))
        failed = any(row[-1] for row in rows)
        print(
            f"\n{args.records:,} records, {size / args.records:.0f} B each, {os.cpu_count()} CPUs\n"
        )
        print(
            "| scenario | output lines | median s | min s | median CPU s | peak RSS MiB | target |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, lines, median, low, cpu, rss, target, _ in rows:
            print(
                f"| {name} | {lines:,} | {median:.2f} | {low:.2f} | {cpu:.2f} | {rss:.0f} "
                f"| {target} |"
            )
    finally:
        if args.dir:
            shutil.rmtree(temp, ignore_errors=True)
            if repo.is_dir():
                print(f"kept {repo} (reused with --dir)", file=sys.stderr)
        elif args.keep:
            print(f"kept {repo}", file=sys.stderr)
        else:
            shutil.rmtree(temp, ignore_errors=True)
    return 1 if failed else 0


def _measure(
    name: str,
    flaggate: list[str],
    command: list[str],
    repo: Path,
    repeat: int,
    target: bool = False,
) -> tuple[str, int, float, float, float, float, str, bool]:
    runs = [timed([*flaggate, *command], repo) for _ in range(repeat)]
    times = [run[0] for run in runs]
    failed = any(run[1] != 0 for run in runs)
    median = statistics.median(times)
    cpu = statistics.median(run[4] for run in runs)
    verdict = "-"
    if target:
        limit = VERIFY_TARGET_SECONDS if command == ["audit", "verify"] else TARGET_SECONDS
        verdict = f"<= {limit:.0f} s " + ("ok" if median <= limit else "MISSED")
    shown = ", ".join(f"{run[0]:.2f} (cpu {run[4]:.2f})" for run in runs)
    print(f"  {name}: {shown} s", file=sys.stderr)
    return (name, runs[0][3], median, min(times), cpu, max(r[2] for r in runs), verdict, failed)


if __name__ == "__main__":
    sys.exit(main())
