"""flaggate: review feature-flag changes like code."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
    """The version, kept in one place: `project.version` in pyproject.toml.

    Installed (a wheel, `pip install -e`), it comes from the distribution's metadata. The GitHub
    Action puts its checkout's `src/` on the venv's path without installing any metadata
    (scripts/install-action.sh), so there it is read from the checkout's pyproject.toml."""
    try:
        return version("flaggate")
    except PackageNotFoundError:
        pass
    import tomllib  # only this fallback needs it

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        found = project["version"] if project["name"] == "flaggate" else None
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        found = None
    return found if isinstance(found, str) else "0+unknown"


__version__ = _version()
