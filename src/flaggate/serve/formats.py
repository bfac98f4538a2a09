"""Export formats behind one small interface.

An :class:`Exporter` turns the flags of a :class:`~flaggate.catalog.Catalog` that exist in one
environment into the bytes of one file. ``flaggate export`` and publishing on merge both go
through :func:`exporter` (or :func:`render_environment` and :func:`file_name`), so another
format is one more class and one more entry in :data:`EXPORTERS`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from flaggate.catalog import PARALLEL_THRESHOLD, Catalog
from flaggate.errors import ConfigError, Problem, UsageError
from flaggate.forking import can_fork, fork_map
from flaggate.serve.flagd import FlagdExporter


class Exporter(Protocol):
    """One export format."""

    @property
    def name(self) -> str:
        """The format's name, as ``--format`` takes it."""
        ...

    def file_name(self, environment: str) -> str:
        """The name of the file holding ``environment`` (no directory)."""
        ...

    def render(self, catalog: Catalog, environment: str) -> bytes:
        """The file for ``environment``: the same catalog always gives the same bytes.

        Raises :class:`UsageError` for an environment the catalog does not declare and
        :class:`~flaggate.errors.ConfigError` for flags the format cannot carry."""
        ...


EXPORTERS: dict[str, Exporter] = {"flagd": FlagdExporter()}
"""Format name -> exporter."""


def exporter(name: str) -> Exporter:
    """The exporter of format ``name``; a :class:`UsageError` naming the known ones otherwise."""
    found = EXPORTERS.get(name)
    if found is None:
        known = ", ".join(sorted(EXPORTERS))
        raise UsageError(f"unknown export format {name!r} (known: {known})")
    return found


def render_environment(catalog: Catalog, fmt: str, environment: str) -> bytes:
    """The bytes of ``environment``'s file in format ``fmt``."""
    return exporter(fmt).render(catalog, environment)


def file_name(fmt: str, environment: str) -> str:
    """The name of ``environment``'s file in format ``fmt``."""
    return exporter(fmt).file_name(environment)


def render_all(catalog: Catalog, fmt: str, environments: Sequence[str]) -> dict[str, bytes]:
    """The files of ``environments`` in format ``fmt``, by environment: one worker process a
    file for a large catalog where processes fork, else one after the other."""
    found = exporter(fmt)
    catalog.require(environments)  # here: a worker's exception would lose its message
    if len(environments) < 2 or len(catalog.flags) < PARALLEL_THRESHOLD or not can_fork():
        return {environment: found.render(catalog, environment) for environment in environments}
    workers = min(os.cpu_count() or 1, len(environments))
    jobs = [(fmt, environment) for environment in environments]
    results = fork_map(_render, catalog, jobs, workers)
    problems = [p for result in results if isinstance(result, list) for p in result]
    if problems:
        raise ConfigError(problems)
    return {
        env: result
        for env, result in zip(environments, results, strict=True)
        if isinstance(result, bytes)
    }


def _render(catalog: Catalog, job: tuple[str, str]) -> bytes | list[Problem]:
    """Render one file in a worker; problems come back as values (a ConfigError does not
    survive pickling with its problems)."""
    fmt, environment = job
    try:
        return exporter(fmt).render(catalog, environment)
    except ConfigError as exc:
        return exc.problems
