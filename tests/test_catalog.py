"""Reading every flag of a revision (flaggate.catalog): all or nothing, symlinks never read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flaggate.catalog import load_catalog
from flaggate.errors import ConfigError
from tests.gitrepo import GitRepo, flag_yaml

DEV = "    development:\n      enabled: false\n"


def problems_of(root: Path, ref: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_catalog(root, ref)
    return [str(problem) for problem in raised.value.problems]


def test_the_example_loads_the_same_from_the_tree_and_from_a_commit(repo: GitRepo) -> None:
    head = repo.git("rev-parse", "HEAD")
    tree, commit = load_catalog(repo.root), load_catalog(repo.root, "HEAD")
    assert (tree.revision, commit.revision) == (None, head)
    assert list(tree.flags) == list(commit.flags) == sorted(tree.flags)
    assert {k: e.flag for k, e in tree.flags.items()} == {
        k: e.flag for k, e in commit.flags.items()
    }
    assert tree.environments() == ["development", "staging", "production"]


def test_a_linked_flag_file_or_folder_is_a_problem_never_read(repo: GitRepo) -> None:
    outside = repo.root.parent / "outside"
    outside.mkdir()
    (outside / "sneaky.yaml").write_text(flag_yaml("sneaky", DEV))
    os.symlink(outside / "sneaky.yaml", repo.root / "flags" / "sneaky.yaml")
    os.symlink(outside, repo.root / "flags" / "linked")
    assert problems_of(repo.root) == [
        "flags/linked: is a symlink (mode 120000): flag and policy files must be regular files",
        "flags/sneaky.yaml: is a symlink (mode 120000): flag and policy files must be regular "
        "files",
    ]
    repo.commit("links")
    found = problems_of(repo.root, "HEAD")
    assert any(p.startswith("flags/sneaky.yaml: is a symlink") for p in found), found


def test_one_bad_file_or_a_key_defined_twice_fails_the_whole_catalog(repo: GitRepo) -> None:
    repo.write("flags/a/twin.yaml", flag_yaml("twin", DEV))
    repo.write("flags/b/twin.yaml", flag_yaml("twin", DEV))
    repo.write("flags/broken.yaml", "apiVersion: [\n")
    found = problems_of(repo.root)
    assert "flags/b/twin.yaml: flag 'twin' is also defined in flags/a/twin.yaml" in found
    assert any(p.startswith("flags/broken.yaml:") for p in found)
    assert len(found) == 2


def test_worker_processes_load_and_render_what_one_process_does(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flaggate import catalog as catalog_module
    from flaggate.serve import formats

    for n in range(40):
        repo.write(f"flags/bulk/flag-{n:02d}.yaml", flag_yaml(f"flag-{n:02d}", DEV))
    alone = load_catalog(repo.root)
    files = formats.render_all(alone, "flagd", alone.environments())
    monkeypatch.setattr(catalog_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(formats, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    together = load_catalog(repo.root)
    assert list(together.flags) == list(alone.flags)
    assert together.flags == alone.flags
    assert formats.render_all(together, "flagd", together.environments()) == files
    repo.write("flags/bulk/flag-07.yaml", "apiVersion: [\n")
    found = problems_of(repo.root)
    assert len(found) == 1 and found[0].startswith("flags/bulk/flag-07.yaml:"), found
