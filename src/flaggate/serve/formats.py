"""Export formats behind one small interface.

An :class:`Exporter` turns the flags of a :class:`~flaggate.catalog.Catalog` that exist in one
environment into the bytes of one file. ``flaggate export`` and publishing on merge both go
through :func:`exporter` (or :func:`render_environment` and :func:`file_name`), so another
format is one more class and one more entry in :data:`EXPORTERS`.
"""

from __future__ import annotations

from typing import Protocol

from flaggate.catalog import Catalog
from flaggate.errors import UsageError
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
