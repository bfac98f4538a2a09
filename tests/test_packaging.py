"""The package declares every third-party module it imports as a runtime dependency.

The GitHub Action installs only ``project.dependencies``; a module that only the test extra
brings in would break the action at import time.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib

from tests.gitrepo import PROJECT

# Import name -> distribution name, for those that differ.
DISTRIBUTIONS = {
    "github": "pygithub",
    "yaml": "pyyaml",
    "ruamel": "ruamel.yaml",
    "markdown_it": "markdown-it-py",
    "re2": "google-re2",
    "httpx_retries": "httpx-retries",
}


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (PROJECT / "src" / "flaggate").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"flaggate", "__future__"}


def test_every_imported_module_is_a_runtime_dependency() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\[<>=!~ ]", dependency, maxsplit=1)[0].lower()
        for dependency in project["dependencies"]
    }
    imported = imported_top_level_modules()
    assert {"httpx", "github", "yaml", "pydantic"} <= imported
    missing = {DISTRIBUTIONS.get(name, name) for name in imported} - declared
    assert missing == set(), f"imported but not in project.dependencies: {sorted(missing)}"
