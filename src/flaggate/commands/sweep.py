"""`flaggate sweep`: the scheduled pass over open pull requests.

Re-evaluates every open pull request that touches flag or policy files, which applies stage
timeouts that expired since the last event (escalate, reject, auto-approve, each noticed once),
and reminds about post-incident reviews still open after 48 hours. Cheap on pull requests that
touch no flag files: one file listing each. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import PurePosixPath

from github import GithubException
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import clock
from flaggate.commands.options import add_github_options
from flaggate.errors import ConfigError, FlaggateError
from flaggate.git import Git
from flaggate.github.api import explain
from flaggate.github.event import ActionsEnvironment
from flaggate.github.gate import PullTarget, evaluate_and_publish, repository
from flaggate.incident.actions import remind_open_reviews
from flaggate.model.settings import Settings
from flaggate.source import read_policies


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate sweep` (the repository comes from the Actions environment)."""
    add_github_options(parser, "print what would be done, write nothing to GitHub")


def run(args: argparse.Namespace) -> int:
    """`flaggate sweep` on its own: needs GITHUB_REPOSITORY and a token."""
    env = ActionsEnvironment.from_env(require_event=False)
    return sweep(args, env, repository(env))


def sweep(args: argparse.Namespace, env: ActionsEnvironment, repo: Repository) -> int:
    """Re-evaluate the open pull requests that touch flags or policies, then remind."""
    watched = _watched_paths(Git(env.workspace), args.policies)
    try:
        pulls = list(repo.get_pulls(state="open"))
    except GithubException as exc:
        raise explain(exc, "listing open pull requests", "'Pull requests: read'") from None
    code, evaluated = 0, 0
    for pull in pulls:
        if not _touches(pull, watched):
            print(f"flaggate: sweep: #{pull.number}: no flag or policy files; skipped")
            continue
        evaluated += 1
        print(f"flaggate: sweep: #{pull.number}: re-evaluating")
        target = PullTarget.of(pull)
        code = max(code, evaluate_and_publish(args, env, repo, target, sweeping=True))
    for line in remind_open_reviews(repo, clock.now(), args.dry_run):
        print(f"flaggate: sweep: {line}")
    print(f"flaggate: sweep: {len(pulls)} open pull request(s), {evaluated} re-evaluated")
    return code


def _watched_paths(git: Git, policies_dir: str) -> tuple[str, ...]:
    """The flag directory (from the default branch's settings) and the policy directory."""
    try:
        settings = read_policies(git, "HEAD", policies_dir).settings
    except (ConfigError, FlaggateError) as exc:
        print(f"flaggate: sweep: warning: {exc}; watching the default paths", file=sys.stderr)
        settings = Settings()
    return (settings.spec.flagsPath.strip("/"), policies_dir.strip("/"))


def _touches(pull: GithubPull, watched: tuple[str, ...]) -> bool:
    try:
        for changed in pull.get_files():
            for name in (changed.filename, changed.previous_filename):
                if name and any(PurePosixPath(name).is_relative_to(p) for p in watched):
                    return True
    except GithubException as exc:
        raise explain(
            exc, f"listing the files of #{pull.number}", "'Pull requests: read'"
        ) from None
    return False
