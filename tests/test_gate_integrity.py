"""Attacks on what the gate judges, each as a real git repository and `flaggate plan` run as a
subprocess: the gate must never answer `approved`/`no_changes` while the merged tree serves
something else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gitrepo import CliResult, GitRepo

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
KILL = "flags/checkout/payment-provider-kill-switch.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"


def edit(repo: GitRepo, path: str, old: str, new: str) -> None:
    target = repo.root / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new, 1))


def plan(repo: GitRepo, *extra: str) -> tuple[CliResult, dict[str, object]]:
    result = repo.flaggate("plan", "--base", "main", "--head", "attack", "--format", "json", *extra)
    return result, json.loads(result.stdout)


def attack(repo: GitRepo, change: Callable[[GitRepo], None]) -> None:
    """Branch `attack` off main, apply ``change``, commit, return to main."""
    repo.branch("attack")
    change(repo)
    repo.commit("attack")
    repo.checkout("main")


def assert_invalid(repo: GitRepo, *expected: str) -> list[str]:
    result, data = plan(repo)
    assert result.code == 2, result.stdout + result.stderr
    assert data["decision"] == "invalid"
    errors = [str(e) for e in data["errors"]]  # type: ignore[attr-defined]
    for text in expected:
        assert any(text in e for e in errors), (text, errors)
    return errors


# --- git objects as git stores them ------------------------------------------------------


def test_a_symlink_whose_text_is_the_old_flag_is_refused(repo: GitRepo) -> None:
    """The link's target text is the old flag as one JSON line; split on `/` it is also a
    path, and the real file there serves production on."""
    tiny = "flags/tiny.yaml"
    flag = {
        "apiVersion": "flaggate/v1",
        "kind": "FeatureFlag",
        "metadata": {"name": "tiny", "owner": "@acme/x", "description": "d", "tags": []},
        "spec": {"environments": {"production": {"enabled": False}}},
    }
    link_text = json.dumps(flag, separators=(",", ":"))
    assert "/" in link_text  # apiVersion flaggate/v1 makes it a path
    repo.write(tiny, link_text + "\n")
    repo.commit("a flag written as JSON")

    def symlink(r: GitRepo) -> None:
        link = r.root / tiny
        served = link.parent / link_text
        served.parent.mkdir(parents=True, exist_ok=True)
        on = json.loads(link_text)
        on["spec"]["environments"]["production"]["enabled"] = True
        served.write_text(json.dumps(on))
        link.unlink()
        link.symlink_to(link_text)

    attack(repo, symlink)
    stored = repo.git("ls-tree", "attack", "--", tiny)
    assert stored.startswith("120000 ")
    errors = assert_invalid(repo, f"{tiny}: is a symlink (mode 120000)")
    # the served file below flags/ is no flag file either
    assert any("is not a .yaml or .yml file" in e for e in errors)


def test_a_submodule_entry_with_the_files_own_blob_is_refused(repo: GitRepo) -> None:
    def gitlink(r: GitRepo) -> None:
        blob = r.git("rev-parse", f"HEAD:{CHECKOUT}")
        r.git("rm", "-q", "--cached", CHECKOUT)
        r.git("update-index", "--add", "--cacheinfo", f"160000,{blob},{CHECKOUT}")
        (r.root / CHECKOUT).unlink()
        r.git("commit", "-q", "-m", "gitlink")

    repo.branch("attack")
    gitlink(repo)
    repo.checkout("main")
    assert repo.git("ls-tree", "attack", "--", CHECKOUT).startswith("160000 commit")
    assert_invalid(repo, f"{CHECKOUT}: is a submodule entry (mode 160000)")


def test_a_symlinked_flag_folder_is_refused(repo: GitRepo) -> None:
    def relink(r: GitRepo) -> None:
        r.git("mv", "flags", "real-flags")
        (r.root / "flags").symlink_to("real-flags")

    attack(repo, relink)
    assert_invalid(repo, "flags: is a symlink (mode 120000)")


def test_a_flag_file_in_the_wrong_folder_is_refused(repo: GitRepo) -> None:
    def misplace(r: GitRepo) -> None:
        text = (r.root / CHECKOUT).read_text().replace(PROD_OFF, PROD_ON)
        r.write("flag/checkout-redesign.yaml", text)

    attack(repo, misplace)
    assert_invalid(repo, "flag/checkout-redesign.yaml:1: a FeatureFlag document outside flags/")
    repo.checkout("attack")
    result = repo.flaggate("validate")
    assert result.code == 2
    assert "flag/checkout-redesign.yaml:1: a FeatureFlag document outside flags/" in result.stderr


@pytest.mark.parametrize("path", ["Flags/growth/new-thing.yaml", "flags/growth/new-thing.YAML"])
def test_paths_that_differ_by_case_are_refused(repo: GitRepo, path: str) -> None:
    text = (repo.root / "flags/growth/search-ranking.yaml").read_text()
    attack(repo, lambda r: r.write(path, text.replace("search-ranking", "new-thing")))
    problem = "differs from flags/ only by case" if path.startswith("F") else "not a .yaml"
    assert_invalid(repo, f"{path}: ", problem)


# --- attributes ---------------------------------------------------------------------------


def export_subst(r: GitRepo) -> None:
    """The attack of the issue: `git archive` would serve production on."""
    r.write(".gitattributes", "flags/** export-subst\n")
    edit(
        r,
        CHECKOUT,
        "production:",
        "# $Format:%x0a      enabled: true$\n    production:",
    )


@pytest.mark.parametrize(
    ("attributes", "shown"),
    [
        ("export-subst", "export-subst"),
        ("export-ignore", "export-ignore"),
        ("ident", "ident"),
        ("filter=lfs", "filter=lfs"),
        ("working-tree-encoding=UTF-16LE-BOM", "working-tree-encoding=UTF-16LE-BOM"),
        ("merge=ours-driver", "merge=ours-driver"),
        ("diff=hide", "diff=hide"),
    ],
)
def test_attributes_that_rewrite_flag_files_are_refused(
    repo: GitRepo, attributes: str, shown: str
) -> None:
    repo.branch("attack")
    edit(repo, "flags/platform/api-rate-limit.yaml", "variant: strict", "variant: default")
    repo.commit("development edit")
    # committed on its own: git add would apply some of them to the flag file itself
    repo.write("flags/.gitattributes", f"*.yaml {attributes}\n")
    repo.git("add", "flags/.gitattributes")
    repo.git("commit", "-q", "-m", "attributes")
    repo.checkout("main")
    assert_invalid(repo, f"git attribute {shown} makes git serve other content")


def test_the_export_subst_attack_is_refused(repo: GitRepo) -> None:
    attack(repo, export_subst)
    assert_invalid(repo, f"{CHECKOUT}: git attribute export-subst")


def test_an_attribute_added_for_files_the_pull_request_does_not_touch_is_refused(
    repo: GitRepo,
) -> None:
    attack(repo, lambda r: r.write(".gitattributes", "policies/*.yaml ident\n"))
    assert_invalid(repo, "policies/approval-policy.yaml: git attribute ident")


def test_harmless_attributes_are_a_governed_repository_change(repo: GitRepo) -> None:
    attack(repo, lambda r: r.write(".gitattributes", "* text=auto eol=lf\n*.yaml diff=yaml\n"))
    result, data = plan(repo)
    assert_invalid(repo, "git attribute diff=yaml")
    attack_ok = "* text=auto eol=lf\n"
    repo.git("branch", "-D", "attack")
    attack(repo, lambda r: r.write(".gitattributes", attack_ok))
    result, data = plan(repo)
    assert result.code == 1, result.stderr
    assert data["decision"] == "pending"
    [change] = data["changes"]  # type: ignore[misc]
    assert (change["resource"], change["flag"], change["environment"], change["type"]) == (
        "repository",
        ".gitattributes",
        "*",
        "created",
    )
    assert change["rule"] == "policy-changes"


# --- the base branch moved after the branch point --------------------------------------------


def test_a_tag_main_dropped_after_the_branch_point_is_not_an_exemption(repo: GitRepo) -> None:
    repo.branch("attack")
    edit(repo, KILL, "production: {enabled: false}", "production: {enabled: true}")
    repo.commit("flip the kill switch")
    repo.checkout("main")
    edit(repo, KILL, "tags: [kill-switch, payments]", "tags: [payments]")
    repo.commit("no longer a kill switch")
    result, data = plan(repo)
    assert result.code == 1, result.stderr
    assert data["decision"] == "pending"
    [change] = data["changes"]  # type: ignore[misc]
    assert change["rule"] == "production-changes"


def test_a_variant_main_started_serving_in_production_counts(repo: GitRepo) -> None:
    repo.branch("attack")
    edit(repo, "flags/platform/api-rate-limit.yaml", "strict: 120", "strict: 100000")
    repo.commit("only development serves strict here")
    repo.checkout("main")
    result, data = plan(repo)
    before = {(c["environment"], c["type"]) for c in data["changes"]}  # type: ignore[attr-defined]
    # main now serves `strict` in production
    edit_production_variant(repo, "strict")
    result, data = plan(repo)
    after = {(c["environment"], c["type"]) for c in data["changes"]}  # type: ignore[attr-defined]
    assert ("production", "variants") in after - before
    assert data["decision"] == "pending" and result.code == 1


def edit_production_variant(repo: GitRepo, variant: str) -> None:
    path = repo.root / "flags/platform/api-rate-limit.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "production:")
    for i in range(start + 1, len(lines)):
        if lines[i].strip().startswith("variant:"):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = f"{indent}variant: {variant}\n"
            break
    else:
        raise AssertionError("production has no variant line")
    path.write_text("".join(lines))
    repo.commit("production serves strict")


def test_a_twin_of_a_flag_main_added_later_is_refused(repo: GitRepo) -> None:
    repo.branch("attack")
    text = (repo.root / "flags/growth/search-ranking.yaml").read_text()
    twin = text.replace("search-ranking", "late-flag").replace("tags: [", "tags: [kill-switch, ")
    repo.write("flags/misc/late-flag.yaml", twin)
    repo.commit("twin")
    repo.checkout("main")
    repo.write("flags/growth/late-flag.yaml", text.replace("search-ranking", "late-flag"))
    repo.commit("main adds late-flag")
    assert_invalid(repo, "flags/misc/late-flag.yaml: flag name clashes with flags/growth/late-flag")


def test_a_conflict_with_the_base_fails_until_the_branch_is_updated(repo: GitRepo) -> None:
    repo.branch("attack")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    repo.commit("on")
    repo.checkout("main")
    edit(repo, CHECKOUT, PROD_OFF, "production:\n      enabled: false\n      variant: on")
    repo.commit("main edits the same lines")
    result, data = plan(repo)
    assert result.code == 1
    assert data["decision"] == "failed"
    assert data["summary"] == f"conflicts with the base branch in {CHECKOUT}: update the branch"


# --- policies that still load ---------------------------------------------------------------


def test_a_policy_edit_that_leaves_policies_unloadable_is_invalid(repo: GitRepo) -> None:
    def rename_role(r: GitRepo) -> None:
        path = next(p for p in (r.root / "policies").iterdir() if "tech-lead:" in p.read_text())
        path.write_text(path.read_text().replace("tech-lead:", "techlead:", 1))

    attack(repo, rename_role)
    errors = assert_invalid(repo, "after the merge: ", "role 'tech-lead' has no binding")
    assert all(e.startswith("policies/") for e in errors)


def test_removing_an_environment_flags_still_use_is_invalid(repo: GitRepo) -> None:
    def drop_staging(r: GitRepo) -> None:
        path = r.root / "policies/environments.yaml"
        text = path.read_text()
        start = text.index("    - name: staging")
        end = text.index("    - name: production")
        path.write_text(text[:start] + text[end:])
        for rule_file in (r.root / "policies").iterdir():
            body = rule_file.read_text()
            body = body.replace("requiredFor: [staging, production]", "requiredFor: [production]")
            rule_file.write_text(body)

    attack(repo, drop_staging)
    assert_invalid(repo, f"{CHECKOUT}:", "after the merge: ", "'staging' is not declared")


# --- dynamic variants ------------------------------------------------------------------------


def test_a_targeting_rule_that_computes_the_variant_makes_every_value_count(
    repo: GitRepo,
) -> None:
    def dynamic(r: GitRepo) -> None:
        edit(
            r,
            CHECKOUT,
            PROD_OFF,
            PROD_OFF.replace("enabled: false", "enabled: true")
            + '\n      targeting: {"var": "variant"}',
        )

    dynamic(repo)
    repo.commit("production picks the variant from the context")
    attack(repo, lambda r: edit(r, CHECKOUT, "on: true", "on: false"))
    result, data = plan(repo)
    envs = {c["environment"] for c in data["changes"]}  # type: ignore[attr-defined]
    assert "production" in envs
    assert data["decision"] == "pending" and result.code == 1


def test_a_literal_targeting_rule_keeps_unused_values_out(repo: GitRepo) -> None:
    from flaggate.diff import targeting_results

    assert targeting_results({"if": [{"==": [{"var": "a"}, 1]}, "on", "off"]}) == {"on", "off"}
    assert targeting_results({"fractional": [["on", 50], ["off", 50]]}) == {"on", "off"}
    assert targeting_results({"if": [True, {"var": "x"}, "off"]}) is None
    assert targeting_results({"cat": ["o", "n"]}) is None
    assert targeting_results({}) == set()


# --- nothing from the head runs --------------------------------------------------------------


def test_a_filter_driver_in_the_head_is_never_run(repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def driver(r: GitRepo) -> None:
        r.write(".gitattributes", "*.yaml filter=evil\n")
        r.write("flags/growth/x.sh", f"touch {marker}\n")
        edit(r, "flags/platform/api-rate-limit.yaml", "variant: strict", "variant: default")

    attack(repo, driver)
    repo.git("config", "filter.evil.smudge", f"sh -c 'touch {marker}; cat'")
    repo.git("config", "filter.evil.clean", f"sh -c 'touch {marker}; cat'")
    assert_invalid(repo, "git attribute filter=evil")
    assert not marker.exists()
