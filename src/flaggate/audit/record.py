"""Audit records: their fields, their ids, and the hash chain that makes the log tamper-evident.

A record is a JSON object with the seed's fields (``id``, ``timestamp``, ``eventType``,
``actor``, ``resource``, ``action``, ``context``, ``outcome``) plus ``prevHash`` and ``hash``.

``hash`` is the SHA-256 (lowercase hex) of the record's canonical JSON without its ``hash``
key: keys sorted, no insignificant whitespace (``separators=(",", ":")``), UTF-8, non-ASCII
characters written as themselves. ``prevHash`` is the previous record's ``hash`` (64 zeros for
the first record), so editing, deleting or reordering any record breaks every later link.
Anyone can verify a log with a few lines of any language: whole numbers are stored as
integers and NaN/Infinity are refused, so the canonical text is the same in any JSON library
that sorts keys.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

GENESIS = "0" * 64
"""``prevHash`` of the first record."""

MAX_RECORD = 4 << 20
"""The most bytes a record's line may hold (without its newline): 4 MiB.

A record holds at most the state of one flag environment before and after a change, each
read from a flag file of at most 1 MiB (:data:`flaggate.yamlio.MAX_FILE_BYTES`), whose JSON
is about as long as its YAML (escaped quotes, backslashes and newlines at most double a
string), plus a few KiB of context and gate results. Only contrived files go further (YAML
aliases, ``1e300`` written out as an integer): the writer refuses such a record rather than
write a line the readers would not load (:func:`flaggate.audit.store.append`), and readers
report a longer line without holding it in memory."""

EVENT_TYPES = (
    "flag.created",
    "flag.updated",
    "flag.deleted",
    "flag.toggled",
    "approval.approved",
    "approval.bypassed",
    "approval.retroactive",
    "policy.created",
    "policy.updated",
    "policy.deleted",
    "repository.created",
    "repository.updated",
    "repository.deleted",
)

Record = dict[str, Any]

_NAMESPACE = uuid.UUID("6f1c9a52-4b9e-4d3a-9a41-0f3f6b2c7d10")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is computed over: canonical JSON without ``hash``."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def normalize(value: Any) -> Any:
    """Whole floats as integers (``25.0`` → ``25``), as JSON libraries of other languages
    write them, so that a record hashes the same everywhere."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    return value


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of :func:`canonical`."""
    return hashlib.sha256(canonical(record)).hexdigest()


def record_id(repository: str, pull_request: int | None, merge_sha: str, index: int) -> str:
    """A stable id for the ``index``-th record of a merge: re-running adds nothing."""
    return str(uuid.uuid5(_NAMESPACE, f"{repository}#{pull_request}@{merge_sha}/{index}"))


def chain(records: Iterable[Record], previous: str = GENESIS) -> Iterator[Record]:
    """The records with ``prevHash`` and ``hash`` set, continuing from ``previous``."""
    for record in records:
        linked = {
            key: normalize(value)
            for key, value in record.items()
            if key not in ("prevHash", "hash")
        }
        linked["prevHash"] = previous
        linked["hash"] = record_hash(linked)
        previous = linked["hash"]
        yield linked


def dumps(record: Mapping[str, Any]) -> str:
    """One JSON Lines line (canonical key order, so the file itself is stable)."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
