"""`flaggate init [DIR]`: a working flag repository in one command.

Writes an example flag, the five policy kinds (an ApprovalPolicy with the seed's rules,
ApprovalStages, RoleBindings whose roles are placeholders bound to nobody, Environments,
Settings) with their ``$schema`` modelines, and the GitHub workflow; runs ``git init`` when DIR
is not a repository. Existing files are never overwritten: init refuses and lists them.
`flaggate validate` then passes, warning about each placeholder role until it is bound.
"""

from __future__ import annotations

import argparse
import subprocess
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from flaggate.errors import ConfigError, FlaggateError, GitError, UsageError
from flaggate.git import Git
from flaggate.model.load import load_policies
from flaggate.validation import role_warnings

TEMPLATES: dict[str, str] = {
    "flags/welcome-banner.yaml": "flags/welcome-banner.yaml",
    "policies/approval-policy.yaml": "policies/approval-policy.yaml",
    "policies/stages.yaml": "policies/stages.yaml",
    "policies/roles.yaml": "policies/roles.yaml",
    "policies/environments.yaml": "policies/environments.yaml",
    "policies/settings.yaml": "policies/settings.yaml",
    "workflow/flaggate.yml": ".github/workflows/flaggate.yml",
}
"""Template (below ``flaggate/templates``) -> file written (below DIR). The workflow's template
is not under ``.github``: package data globs skip hidden folders."""

DEFAULT_BRANCH = "__DEFAULT_BRANCH__"
"""Where the workflow template names the branch pull requests target."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate init`."""
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where to start the repository (default: .; created when missing)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the files; 0, or 2 (nothing written) when any of them exists already."""
    root: Path = args.directory
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    existing = sorted(target for target in TEMPLATES.values() if _exists(root / target))
    if existing:
        raise UsageError(
            f"{root}: refusing to overwrite existing files: {', '.join(existing)}",
            "remove or move them, or run init in another directory",
        )
    _check_not_nested(root)
    root.mkdir(parents=True, exist_ok=True)
    created_repository = _ensure_repository(root)
    branch = _default_branch(root)
    for template, target in TEMPLATES.items():
        text = _template(template).read_text(encoding="utf-8")
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as stream:  # never overwrite, even in a race
            stream.write(text.replace(DEFAULT_BRANCH, branch))
    if created_repository:
        print(f"initialised an empty git repository in {root} (branch {branch})")
    for target in TEMPLATES.values():
        print(f"created {(root / target).as_posix()}")
    _next_steps(root)
    return 0


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _template(name: str) -> Traversable:
    return resources.files("flaggate").joinpath("templates", *name.split("/"))


def _check_not_nested(root: Path) -> None:
    """A folder inside another repository, below its top, would not work: flaggate reads
    flags/ and policies/ at a repository's root."""
    probe = root if root.is_dir() else next((p for p in root.parents if p.is_dir()), Path("."))
    try:
        top = Git.discover(probe).root.resolve()
    except GitError:
        return
    if top != root.resolve():
        raise UsageError(
            f"{root} is inside the git repository {top}, below its top folder: flaggate reads "
            "flags/ and policies/ at a repository's root",
            f"run `flaggate init {top}` or choose a folder outside that repository",
        )


def _ensure_repository(root: Path) -> bool:
    """``git init`` unless ``root`` is a repository's top folder; whether it ran."""
    try:
        if Git.discover(root).root.resolve() == root.resolve():
            return False
    except GitError:
        pass
    done = subprocess.run(
        ["git", "init", "--quiet", str(root)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise GitError(f"git init failed: {done.stderr.strip() or done.returncode}")
    return True


def _default_branch(root: Path) -> str:
    """The branch pull requests will target: origin's default, else the current branch."""
    git = Git(root)
    origin = ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"]
    code, out, _ = git.run_status(origin)
    if code == 0 and out.strip():
        return out.decode().strip().removeprefix("origin/")
    code, out, _ = git.run_status(["symbolic-ref", "--quiet", "--short", "HEAD"])
    return out.decode().strip() if code == 0 and out.strip() else "main"


def _next_steps(root: Path) -> None:
    """The roles to bind (as `flaggate validate` will warn) and what to do next."""
    files = {
        target: (root / target).read_bytes()
        for target in TEMPLATES.values()
        if target.startswith("policies/")
    }
    try:
        policies = load_policies(files)
    except ConfigError as exc:  # the templates are tested to load: a broken install
        broken = exc.problems[0] if exc.problems else exc.message
        raise FlaggateError(f"the bundled policy templates do not load: {broken}") from None
    unbound = [w.message for w in role_warnings(policies, "policies")]
    print()
    print(f"Next: bind these {len(unbound)} roles in policies/roles.yaml (teams or users):")
    for warning in unbound:
        print(f"  {warning}")
    print("then commit, push, and require the `flaggate` status check on your default branch.")
    print("`flaggate validate` checks everything; `flaggate set welcome-banner staging --on`")
    print("makes a first change to open a pull request with.")
