"""Publishing on merge: the export of the default branch's tip, committed to a branch that
applications (flagd, a git-sync sidecar) read.

Each attempt reads the publish branch's tip and the default branch's tip in one fetch (one
snapshot of the remote), exports the default branch's tip, and commits the files to the
publish branch only when they differ from what it holds apart from the source commit they
name: a merge that changes no served flag writes nothing. The commit goes through
:func:`flaggate.git.write_branch`, the compare-and-swap writer of the audit log, so two merges
publishing at once both succeed in order and the branch never goes back to an older tip: the
loser of the race starts again from the new tips, finds the newer export already there and
writes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flaggate.catalog import Catalog, load_catalog
from flaggate.errors import ConfigError, FlaggateError, Problem
from flaggate.git import Git, Planned, write_branch
from flaggate.model.settings import Publish
from flaggate.serve.formats import exporter, render_all

SOURCE_TRAILER = "Flaggate-Source"
"""The trailer of a publish commit naming the default branch's commit it exports."""

_SOURCE = re.compile(rf"^{SOURCE_TRAILER}: ([0-9a-f]{{40,64}})$", re.MULTILINE)


class PublishError(FlaggateError):
    """The export could not be published; the publish branch is unchanged."""


@dataclass(frozen=True)
class Published:
    """What a publish did."""

    branch: str
    source: str
    """The default branch's commit that was exported."""
    files: tuple[str, ...]
    commit: str | None
    """The new commit on the publish branch; None when it already served this export."""
    attempts: int
    moved: bool = False
    """The default branch's tip no longer publishes to this branch: nothing was written."""


def publish(
    git: Git,
    settings: Publish,
    default_branch: str,
    *,
    policies_dir: str = "policies",
    remote: str = "origin",
    attempts: int = 5,
    backoff: float = 0.5,
) -> Published:
    """Publish the export of ``default_branch``'s tip to ``settings.branch``, with the formats
    and environments the tip's own Settings give for that branch (``settings`` are those of
    the merge being handled: a later merge that moved publishing elsewhere publishes itself).
    Raises :class:`PublishError` (or :class:`ConfigError` for flags that do not load at the
    tip): nothing is written then."""

    def plan(tip: str | None, tips: Mapping[str, str | None]) -> Planned[Published]:
        source = tips[default_branch]
        if source is None:
            raise PublishError(f"branch {default_branch!r} not found: nothing to publish")
        catalog = load_catalog(git.root, source, policies_dir, git)
        current = catalog.policies.settings.spec.publish
        if current is None or current.branch != settings.branch:
            return Planned({}, Published(settings.branch, source, (), None, 0, moved=True))
        _check_settings(current, default_branch, catalog, policies_dir)
        if tip is not None and _unchanged(git, tip, catalog, current):
            names = tuple(exporter_names(catalog, current))
            return Planned({}, Published(current.branch, source, names, None, 0))
        files = export_files(catalog, current)
        return Planned(files, Published(current.branch, source, tuple(files), None, 0), True)

    written = write_branch(
        git,
        settings.branch,
        plan,
        message=_message,
        also=[default_branch],
        remote=remote,
        attempts=attempts,
        backoff=backoff,
    )
    return dataclasses.replace(written.value, commit=written.commit, attempts=written.attempts)


def export_files(catalog: Catalog, settings: Publish) -> dict[str, bytes]:
    """File name -> bytes of every format and environment ``settings`` publish."""
    environments = _published(catalog, settings)
    files: dict[str, bytes] = {}
    for name in settings.formats:
        format_ = exporter(name)
        for environment, content in render_all(catalog, name, environments).items():
            files[format_.file_name(environment)] = content
    return dict(sorted(files.items()))


def exporter_names(catalog: Catalog, settings: Publish) -> list[str]:
    """The file names ``settings`` publish, sorted."""
    environments = _published(catalog, settings)
    return sorted(exporter(f).file_name(env) for f in settings.formats for env in environments)


def _published(catalog: Catalog, settings: Publish) -> list[str]:
    """The environments ``settings`` publish: those named, else every declared one."""
    return list(settings.environments) or catalog.environments()


def _message(value: Published) -> str:
    count = len(value.files)
    return f"publish: {count} file(s) of {value.source[:12]}\n\n{SOURCE_TRAILER}: {value.source}\n"


def _check_settings(
    settings: Publish, default_branch: str, catalog: Catalog, policies_dir: str
) -> None:
    audit = catalog.policies.settings.spec.audit
    clash = settings.branch == default_branch or (
        audit.path is None and settings.branch == audit.branch
    )
    if clash:
        raise PublishError(
            f"Settings spec.publish.branch {settings.branch!r} is also the "
            + ("default branch" if settings.branch == default_branch else "audit log's branch"),
            "publish to a branch of its own, e.g. flaggate-dist",
        )
    declared = set(catalog.environments())
    unknown = [env for env in settings.environments if env not in declared]
    if unknown:
        raise ConfigError(
            [
                Problem(
                    f"{policies_dir.strip('/')}/",
                    None,
                    f"Settings spec.publish.environments: {', '.join(map(repr, unknown))} "
                    f"not declared in Environments ({', '.join(catalog.environments())})",
                )
            ]
        )


def _unchanged(git: Git, tip: str, catalog: Catalog, settings: Publish) -> bool:
    """Whether the publish branch's tip holds this export apart from the source commit it
    names: the export rendered as of the tip's own source commit (its trailer) is byte for
    byte what the tip holds, and nothing else is there."""
    found = _SOURCE.search(git.run(["log", "-1", "--format=%B", tip]).decode())
    if found is None:
        return False
    as_before = export_files(dataclasses.replace(catalog, revision=found.group(1)), settings)
    entries = git.entries(tip, [])
    if sorted(e.path for e in entries) != sorted(as_before):
        return False
    blobs = git.read_blobs((e.oid for e in entries), 1 << 30)
    return all(blobs.get(e.oid) == as_before[e.path] for e in entries)
