"""flaggate: review feature-flag changes like code."""

from __future__ import annotations

import functools


@functools.cache
def version() -> str:
    """The version, kept in one place: `project.version` in pyproject.toml.

    Installed (a wheel, `pip install -e`), it comes from the distribution's metadata. The GitHub
    Action puts its checkout's `src/` on the venv's path without installing any metadata
    (scripts/install-action.sh), so there it is read from the checkout's pyproject.toml. Read
    on first use: importing importlib.metadata costs more than most commands' own work."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("flaggate")
    except PackageNotFoundError:
        pass
    import tomllib  # only this fallback needs it
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        found = project["version"] if project["name"] == "flaggate" else None
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        found = None
    return found if isinstance(found, str) else "0+unknown"


def __getattr__(name: str) -> object:
    """``flaggate.__version__``, computed when first asked for."""
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'flaggate' has no attribute {name!r}")
