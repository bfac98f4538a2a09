"""`flaggate list` and `flaggate show` on the bundled example, as a subprocess."""

from __future__ import annotations

import re

from tests.gitrepo import GitRepo, edit

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
SEARCH = "flags/growth/search-ranking.yaml"

EXAMPLE_TABLE = [
    "FLAG                          DEVELOPMENT  STAGING                  PRODUCTION               OWNER           TAGS",  # noqa: E501
    "api-rate-limit                strict       default                  default                  @acme/platform  platform",  # noqa: E501
    "checkout-redesign             on           on 25% / off 75%         disabled                 @acme/checkout  checkout, experiment",  # noqa: E501
    "onboarding-flow               guided       short + targeting        short                    @acme/growth    growth",  # noqa: E501
    "payment-provider-kill-switch  disabled     disabled                 disabled                 @acme/payments  kill-switch, payments",  # noqa: E501
    "search-ranking                ml-v2        classic 50% / ml-v2 50%  classic 90% / ml-v2 10%  @acme/search    search, experiment",  # noqa: E501
]


def test_list_shows_every_flag_aligned_one_line_each(repo: GitRepo) -> None:
    result = repo.flaggate("list")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == EXAMPLE_TABLE


def test_list_filters_by_environment_tag_and_owner(repo: GitRepo) -> None:
    result = repo.flaggate(
        "list", "--environment", "production", "--environment", "staging", "--tag", "experiment"
    )
    assert result.code == 0
    assert result.stdout.splitlines() == [
        "FLAG               STAGING                  PRODUCTION               OWNER           TAGS",
        "checkout-redesign  on 25% / off 75%         disabled                 @acme/checkout  checkout, experiment",  # noqa: E501
        "search-ranking     classic 50% / ml-v2 50%  classic 90% / ml-v2 10%  @acme/search    search, experiment",  # noqa: E501
    ]
    owner = repo.flaggate("list", "--owner", "ACME/payments", "--environment", "production")
    assert owner.stdout.splitlines() == [
        "FLAG                          PRODUCTION  OWNER           TAGS",
        "payment-provider-kill-switch  disabled    @acme/payments  kill-switch, payments",
    ]
    none = repo.flaggate("list", "--tag", "nothing-has-this")
    assert (none.code, none.stdout, none.stderr) == (0, "", "no flags match\n")


def test_list_refuses_an_undeclared_environment_with_a_suggestion(repo: GitRepo) -> None:
    result = repo.flaggate("list", "--environment", "stagin")
    assert result.code == 2
    assert result.stderr == (
        "flaggate: error: environment 'stagin' is not declared (development, staging, "
        "production) (did you mean 'staging'?)\n"
    )


def test_list_json_has_a_stable_shape(repo: GitRepo) -> None:
    data = repo.flaggate("list", "--format", "json").json()
    assert sorted(data) == ["environments", "flags", "revision", "version"]
    assert data["version"] == 1
    assert data["revision"] is None
    assert data["environments"] == ["development", "staging", "production"]
    assert [f["key"] for f in data["flags"]] == [row.split()[0] for row in EXAMPLE_TABLE[1:]]
    checkout = next(f for f in data["flags"] if f["key"] == "checkout-redesign")
    assert checkout == {
        "key": "checkout-redesign",
        "path": CHECKOUT,
        "owner": "@acme/checkout",
        "description": "New single-page checkout",
        "tags": ["checkout", "experiment"],
        "environments": {
            "development": {
                "enabled": True,
                "variant": "on",
                "rollout": None,
                "targeting": None,
                "served": {"on": 100.0},
            },
            "staging": {
                "enabled": True,
                "variant": None,
                "rollout": {"off": 75, "on": 25},
                "targeting": None,
                "served": {"off": 75.0, "on": 25.0},
            },
            "production": {
                "enabled": False,
                "variant": "off",
                "rollout": None,
                "targeting": None,
                "served": {"off": 100.0},
            },
        },
    }


def test_list_at_a_ref_reads_the_commit_not_the_working_tree(repo: GitRepo) -> None:
    head = repo.git("rev-parse", "HEAD")
    edit(repo, CHECKOUT, "production:\n      enabled: false", "production:\n      enabled: true")
    now = repo.flaggate("list", "--environment", "production", "--tag", "checkout")
    assert "checkout-redesign  off" in now.stdout
    then = repo.flaggate(
        "list", "--environment", "production", "--tag", "checkout", "--ref", "HEAD"
    )
    assert "checkout-redesign  disabled" in then.stdout
    data = repo.flaggate("list", "--format", "json", "--ref", "HEAD").json()
    assert data["revision"] == head


def test_list_fails_closed_when_a_file_does_not_load(repo: GitRepo) -> None:
    edit(repo, SEARCH, "ml-v2: 10}", "ml-v2: 20}")
    result = repo.flaggate("list")
    assert result.code == 2
    assert result.stdout == ""
    assert (
        f"{SEARCH}:21: spec.environments.production.rollout: rollout sums to 110" in result.stderr
    )


def section(text: str, title: str) -> list[str]:
    """The lines of one section of `show` (from its title to the next blank line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def test_show_tells_values_states_and_who_a_change_needs(repo: GitRepo) -> None:
    result = repo.flaggate("show", "checkout-redesign")
    assert (result.code, result.stderr) == (0, "")
    out = result.stdout
    head = repo.git("rev-parse", "HEAD")[:12]
    assert section(out, "checkout-redesign") == [
        f"checkout-redesign  ({CHECKOUT}, working tree)",
        "  owner        @acme/checkout",
        "  description  New single-page checkout",
        "  tags         checkout, experiment",
    ]
    assert section(out, "Variants") == ["Variants", "  on   true", "  off  false"]
    assert section(out, "Environments") == [
        "Environments",
        "  development  enabled   serves on (true)",
        "  staging      enabled   serves on 25% / off 75%",
        "  production   disabled  serves off (false)",
    ]
    assert section(out, "Approvals") == [
        f"Approvals (policies at HEAD, {head}): a change here would need",
        "  development  any change:          development-auto-approve: no approval",
        "  staging      any change:          staging-changes: 1 of developer, tech-lead",
        "  production   any change:          production-changes: technical-review (1 of "
        "tech-lead, senior-engineer; after 24h also engineering-manager), then "
        "business-review (1 of product-owner, product-manager; after 48h also "
        "director-product)",
        "  metadata     owner, description:  metadata-only: 1 of developer, tech-lead",
    ]
    assert section(out, "Who can approve")[1:3] == [
        "  developer            team acme/engineering",
        "  tech-lead            team acme/tech-leads",
    ]
    assert "  director-product     @dana-director" in section(out, "Who can approve")


def test_show_a_kill_switch_tells_toggles_from_other_changes(repo: GitRepo) -> None:
    out = repo.flaggate("show", "payment-provider-kill-switch").stdout
    approvals = section(out, "Approvals")
    assert approvals[5:7] == [
        "  production   turning it on:       kill-switch-bypass: no approval",
        "               serving on:          production-changes: technical-review (1 of "
        "tech-lead, senior-engineer; after 24h also engineering-manager), then "
        "business-review (1 of product-owner, product-manager; after 48h also "
        "director-product)",
    ]


def test_show_targeting_and_object_values(repo: GitRepo) -> None:
    out = repo.flaggate("show", "onboarding-flow").stdout
    assert section(out, "Environments")[2:4] == [
        '  staging      enabled  serves short ({"steps": 3, "skippable": true})',
        '    targeting: {"if": [{"ends_with": [{"var": "email"}, "@acme.example"]}, "guided", '
        '"short"]}',
    ]


def test_show_uses_the_base_policies_not_the_working_tree(repo: GitRepo) -> None:
    edit(repo, "policies/approval-policy.yaml", "value: staging", "value: qa-nowhere")
    out = repo.flaggate("show", "checkout-redesign").stdout
    assert "  staging      any change:          staging-changes: 1 of developer, tech-lead" in out
    repo.commit("policies changed")
    out = repo.flaggate("show", "checkout-redesign").stdout
    assert "  staging      any change:          default: 1 of admin" in out


def test_show_history_names_authors_changes_and_pull_requests(repo: GitRepo) -> None:
    repo.branch("turn-on")
    edit(repo, CHECKOUT, "production:\n      enabled: false", "production:\n      enabled: true")
    repo.commit("Turn checkout on in production")
    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge pull request #12 from alice/turn-on", "turn-on")
    edit(repo, CHECKOUT, "rollout: {on: 25, off: 75}", "rollout: {on: 50, off: 50}")
    repo.commit("Half of staging gets the new checkout (#34)")
    result = repo.flaggate("show", "checkout-redesign", "--history", "5")
    assert result.code == 0, result.stderr
    history = section(result.stdout, "History")
    assert history[0] == f"History of {CHECKOUT} (newest first, at most 5)"
    entry = r"  \d{4}-\d\d-\d\d \d\d:\d\d  [0-9a-f]{7}  Test Author"
    assert re.fullmatch(entry + r"  #34  Half of staging gets the new checkout \(#34\)", history[1])
    assert history[2] == "      staging: rollout: off 75% / on 25% → off 50% / on 50%"
    assert re.fullmatch(entry + r"  #12  Merge pull request #12 from alice/turn-on", history[3])
    assert history[4] == "      production: toggled: off → off (false)"
    assert re.fullmatch(entry + r"  example", history[5])
    assert history[6] == "      created"
    assert len(history) == 7


def test_show_an_unknown_flag_suggests_the_closest(repo: GitRepo) -> None:
    result = repo.flaggate("show", "search-rankin")
    assert result.code == 2
    assert result.stderr == (
        "flaggate: error: no flag 'search-rankin' in flags/ (did you mean 'search-ranking'?)\n"
    )
