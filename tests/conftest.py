from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.github_env import TEAMS, organisation
from tests.gitrepo import GitRepo


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """A factory of git repositories holding the example policies (and flags, by default)."""
    counter = iter(range(1000))

    def make(flags: bool = True) -> GitRepo:
        repo = GitRepo(tmp_path / f"repo{next(counter)}")
        repo.copy_example(flags=flags)
        repo.commit("example")
        return repo

    return make


@pytest.fixture
def repo(make_repo: Callable[..., GitRepo]) -> GitRepo:
    """A git repository on `main` with the example policies and flags committed."""
    return make_repo()


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """The fake GitHub over HTTP with the example organisation's teams; it must end without
    an internal error."""
    with organisation(TEAMS) as server:
        yield server
