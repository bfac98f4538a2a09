"""Export formats behind one small interface.

An :class:`Exporter` turns the flags of a :class:`~flaggate.catalog.Catalog` that exist in one
environment into the bytes of one file. ``flaggate export`` and publishing on merge both go
through :func:`exporter` (or :func:`render_environment` and :func:`file_name`), so another
format is one more class and one more entry in :data:`EXPORTERS`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from typing import Protocol

from flaggate.catalog import PARALLEL_THRESHOLD, Catalog
from flaggate.errors import ConfigError, Problem, UsageError
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


_SHARED: Catalog | None = None
"""The catalog forked rendering workers read (inherited by fork, never pickled: a large
catalog costs more to send than to render)."""


def render_all(catalog: Catalog, fmt: str, environments: Sequence[str]) -> dict[str, bytes]:
    """The files of ``environments`` in format ``fmt``, by environment: one worker process a
    file for a large catalog where processes fork, else one after the other."""
    found = exporter(fmt)
    catalog.require(environments)  # here: a worker's exception would lose its message
    workers = min(os.cpu_count() or 1, len(environments))
    forks = "fork" in multiprocessing.get_all_start_methods()
    if workers < 2 or len(catalog.flags) < PARALLEL_THRESHOLD or not forks:
        return {environment: found.render(catalog, environment) for environment in environments}
    global _SHARED
    _SHARED = catalog
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(pool.map(_render_shared, repeat(fmt), environments))
    finally:
        _SHARED = None
    problems = [p for result in results if isinstance(result, list) for p in result]
    if problems:
        raise ConfigError(problems)
    return {
        env: result
        for env, result in zip(environments, results, strict=True)
        if isinstance(result, bytes)
    }


def _render_shared(fmt: str, environment: str) -> bytes | list[Problem]:
    """Render from the inherited catalog; problems come back as values (a ConfigError does
    not survive pickling with its problems)."""
    assert _SHARED is not None
    try:
        return exporter(fmt).render(_SHARED, environment)
    except ConfigError as exc:
        return exc.problems
