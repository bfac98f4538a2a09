"""Publishing the merged flags to a branch (real git: a bare remote and clones over file://
URLs; the merge run of `flaggate github` against the fake GitHub over HTTP)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from flaggate.catalog import load_catalog
from flaggate.errors import ConfigError
from flaggate.git import Git
from flaggate.model.settings import Publish
from flaggate.serve.publish import SOURCE_TRAILER, Published, PublishError, export_files, publish
from tests.fakes.github import FakeGitHub
from tests.gitrepo import EXAMPLE_POLICIES, GitRepo, edit
from tests.test_audit_merge import approved_and_merged, merge
from tests.test_audit_store import git, tree_files
from tests.test_github_action import CHECKOUT, PROD_OFF, PROD_ON, open_pull

DIST = "flaggate-dist"
ENVIRONMENTS = ("development", "staging", "production")
PUBLISH = """
  publish:
    branch: flaggate-dist
    formats: [flagd]
"""


def with_publish(repo: GitRepo, block: str = PUBLISH) -> None:
    """The example settings with ``block`` (a ``publish`` setting) added."""
    example = (EXAMPLE_POLICIES / "settings.yaml").read_text()
    settings = repo.root / "policies" / "settings.yaml"
    settings.write_text(example.rstrip("\n") + "\n" + block.strip("\n") + "\n")


class Origin:
    """A bare ``origin`` holding the example repository with publishing on, and its clones."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "origin.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.root))
        seed = GitRepo(tmp_path / "seed")
        seed.copy_example()
        with_publish(seed)
        seed.commit("flags")
        seed.git("remote", "add", "origin", self.root.as_uri())
        seed.git("push", "-q", "origin", "main")
        self.seed = seed
        self.clones = 0

    def clone(self, *options: str) -> GitRepo:
        self.clones += 1
        target = self.tmp / f"clone{self.clones}"
        git(self.tmp, "clone", "-q", *options, self.root.as_uri(), str(target))
        return GitRepo.existing(target)

    def tip(self, ref: str) -> str:
        return git(self.root, "rev-parse", f"refs/heads/{ref}")

    def dist(self) -> dict[str, bytes]:
        return tree_files(self.root, DIST)

    def commits(self, ref: str = DIST) -> list[str]:
        return git(self.root, "rev-list", f"refs/heads/{ref}").split()


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin(tmp_path)


def run_publish(clone: GitRepo, backoff: float = 0.5) -> Published:
    return publish(Git(clone.root), Publish(), "main", backoff=backoff)


def merged_change(clone: GitRepo, old: str, new: str, message: str = "change") -> str:
    clone.git("pull", "-q", "--rebase", "origin", "main")
    edit(clone, CHECKOUT, old, new)
    sha = clone.commit(message)
    clone.git("push", "-q", "origin", "main")
    return sha


def served(files: dict[str, bytes], environment: str, flag: str) -> object:
    document = json.loads(files[f"{environment}.flagd.json"])
    return document["flags"][flag]


def test_the_first_publish_writes_every_environment_of_the_tip(origin: Origin) -> None:
    clone = origin.clone()
    done = run_publish(clone)
    main = origin.tip("main")
    assert done.commit == origin.tip(DIST)
    assert (done.source, done.branch, done.attempts) == (main, DIST, 1)
    assert done.files == tuple(sorted(f"{env}.flagd.json" for env in ENVIRONMENTS))
    published = origin.dist()
    assert list(published) == list(done.files)  # exactly the export, nothing else
    catalog = load_catalog(clone.root, main)
    assert published == export_files(catalog, Publish())
    message = git(origin.root, "log", "-1", "--format=%B", DIST)
    assert f"{SOURCE_TRAILER}: {main}" in message
    author = git(origin.root, "log", "-1", "--format=%an <%ae>", DIST)
    assert author == "flaggate <flaggate@users.noreply.github.com>"
    assert json.loads(published["production.flagd.json"])["metadata"]["sourceCommit"] == main


def test_a_merge_that_changes_no_flag_writes_nothing(origin: Origin) -> None:
    clone = origin.clone()
    first = run_publish(clone)
    clone.write("README.md", "# flags\n")
    clone.commit("docs")
    clone.git("push", "-q", "origin", "main")
    again = run_publish(clone)
    assert again.commit is None
    assert again.source == origin.tip("main") != first.source
    assert origin.commits() == [first.commit]


def test_each_merge_that_changes_a_flag_adds_one_commit(origin: Origin) -> None:
    clone = origin.clone()
    first = run_publish(clone)
    assert served(origin.dist(), "production", "checkout-redesign")["defaultVariant"] == "off"
    merged_change(clone, PROD_OFF, PROD_ON)
    second = run_publish(clone)
    assert second.commit is not None
    assert origin.commits() == [second.commit, first.commit]
    assert served(origin.dist(), "production", "checkout-redesign")["defaultVariant"] == "on"
    assert run_publish(clone).commit is None  # the same merge published again


def test_two_merges_publishing_at_once_end_on_the_newest_tip(origin: Origin) -> None:
    # Rounds of two runs at the same moment from two clones: one merges a change and
    # publishes, the other publishes while that merge lands. Whatever order the fetches and
    # pushes take, each round adds exactly one commit, the branch ends on the export of main's
    # newest tip, and never goes back to an older one.
    clones = [origin.clone(), origin.clone()]
    first = run_publish(clones[0])
    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []
    states = [(PROD_OFF, PROD_ON), (PROD_ON, PROD_OFF)]
    rounds = 6

    def run(number: int, clone: GitRepo, round_: int) -> None:
        try:
            barrier.wait()
            if number == round_ % 2:
                merged_change(clone, *states[round_ % 2], f"round {round_}")
            run_publish(clone, backoff=0.02)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    for round_ in range(rounds):
        threads = [
            threading.Thread(target=run, args=(n, clone, round_)) for n, clone in enumerate(clones)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        message = git(origin.root, "log", "-1", "--format=%B", DIST)
        assert f"{SOURCE_TRAILER}: {origin.tip('main')}" in message, f"round {round_}"
    commits = origin.commits()
    assert len(commits) == 1 + rounds and commits[-1] == first.commit
    trailer = "--format=%(trailers:key=Flaggate-Source,valueonly)"
    sources = [git(origin.root, "log", "-1", trailer, commit).strip() for commit in commits]
    order = git(origin.root, "rev-list", "--first-parent", "refs/heads/main").split()
    positions = [order.index(source) for source in sources]
    assert positions == sorted(positions), "the published source went back in time"


def test_a_shallow_checkout_publishes_the_tip(origin: Origin) -> None:
    # actions/checkout fetches one commit by default.
    writer = origin.clone()
    first = run_publish(writer)
    merged_change(writer, PROD_OFF, PROD_ON)
    shallow = origin.clone("--depth=1", "--no-local")
    done = run_publish(shallow)
    assert done.commit is not None and origin.commits() == [done.commit, first.commit]
    assert served(origin.dist(), "production", "checkout-redesign")["defaultVariant"] == "on"


def test_flags_that_do_not_load_at_the_tip_publish_nothing(origin: Origin) -> None:
    clone = origin.clone()
    first = run_publish(clone)
    merged_change(clone, "enabled: false", "enabled: maybe")
    with pytest.raises(ConfigError) as raised:
        run_publish(clone)
    assert any("checkout-redesign.yaml" in str(p) for p in raised.value.problems)
    assert origin.commits() == [first.commit]


def test_an_undeclared_environment_or_a_shared_branch_is_refused(origin: Origin) -> None:
    clone = origin.clone()
    with_publish(clone, PUBLISH + "    environments: [production, prod]\n")
    clone.commit("publish prod")
    clone.git("push", "-q", "origin", "main")
    with pytest.raises(ConfigError) as raised:
        run_publish(clone)
    assert "'prod' not declared in Environments" in str(raised.value.problems[0])
    settings = clone.root / "policies" / "settings.yaml"
    text = settings.read_text().replace("branch: flaggate-dist", "branch: flaggate-audit")
    settings.write_text(text.replace("[production, prod]", "[production]"))
    clone.commit("publish to the audit branch")
    clone.git("push", "-q", "origin", "main")
    with pytest.raises(PublishError, match="also the audit log's branch"):
        publish(Git(clone.root), Publish(branch="flaggate-audit"), "main")
    assert git(origin.root, "for-each-ref", "--format=%(refname)") == "refs/heads/main"


def test_only_the_chosen_environments_are_published(origin: Origin) -> None:
    clone = origin.clone()
    with_publish(clone, PUBLISH + "    environments: [production]\n")
    clone.commit("publish production only")
    clone.git("push", "-q", "origin", "main")
    assert run_publish(clone).files == ("production.flagd.json",)
    assert list(origin.dist()) == ["production.flagd.json"]


# --- the merge run -----------------------------------------------------------------------------


def test_the_merge_run_publishes_once(repo: GitRepo, fake: FakeGitHub) -> None:
    with_publish(repo)
    repo.commit("publish")
    pr, merged = approved_and_merged(repo, fake)
    result = pr.run("pull_request", "closed")
    assert result.code == 0, result.stderr
    assert f"written to branch {DIST}" in result.stdout
    files = tree_files(repo.root, DIST)
    assert served(files, "production", "checkout-redesign")["defaultVariant"] == "on"
    again = pr.run("pull_request", "closed")
    assert again.code == 0, again.stderr
    assert f"branch {DIST} already serves {merged[:12]}" in again.stdout
    assert len(git(repo.root, "rev-list", DIST).split()) == 1


def test_a_merge_that_turns_publishing_on_publishes(repo: GitRepo, fake: FakeGitHub) -> None:
    def turn_on_and_publish(r: GitRepo) -> None:
        edit(r, CHECKOUT, PROD_OFF, PROD_ON)
        with_publish(r)

    pr = open_pull(repo, fake, turn_on_and_publish)
    pr.review("alice")
    pr.review("bob")
    merge(repo, pr)
    result = pr.run("pull_request", "closed")
    assert f"written to branch {DIST}" in result.stdout, result.stdout + result.stderr


def test_a_failed_publish_fails_the_merge_run_and_says_why(repo: GitRepo, fake: FakeGitHub) -> None:
    with_publish(repo, PUBLISH + "    environments: [prod]\n")
    repo.commit("publish a typo")
    pr, _ = approved_and_merged(repo, fake)
    result = pr.run("pull_request", "closed")
    assert result.code == 2
    assert "record(s) appended" in result.stdout  # the audit is written all the same
    assert "flaggate: error: flags not published to branch flaggate-dist" in result.stderr
    assert "'prod' not declared in Environments" in result.stderr
    assert git(repo.root, "branch", "--list", DIST) == ""


def test_policies_that_do_not_load_at_the_merge_fail_the_publish_never_skip_it(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    # Whether to publish cannot be told when the merged settings do not load: say so, fail
    # (the base publishes nothing, so falling back to it would skip in silence).
    def break_settings(r: GitRepo) -> None:
        edit(r, CHECKOUT, PROD_OFF, PROD_ON)
        with_publish(r, PUBLISH.replace("formats: [flagd]", "formats: [nope]"))

    pr = open_pull(repo, fake, break_settings)
    merge(repo, pr)
    result = pr.run("pull_request", "closed")
    assert result.code == 2
    assert "flaggate: error: flags not published (the policies at " in result.stderr
    assert "do not load)" in result.stderr
    assert git(repo.root, "branch", "--list", DIST) == ""
