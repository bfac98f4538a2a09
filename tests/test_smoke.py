from tests.gitrepo import GitRepo


def test_plan_production_change_is_pending_until_both_stages_approve(repo: GitRepo) -> None:
    path = repo.root / "flags/checkout/checkout-redesign.yaml"
    path.write_text(path.read_text().replace(
        "production:\n      enabled: false\n      variant: off",
        "production:\n      enabled: true\n      variant: on",
    ))
    pending = repo.flaggate("plan", "--format", "json")
    assert pending.code == 1, pending.stderr
    data = pending.json()
    assert data["decision"] == "pending"
    assert [(c["flag"], c["environment"], c["type"]) for c in data["changes"]] == [
        ("checkout-redesign", "production", "toggled")
    ]
    approved = repo.flaggate(
        "plan", "--format", "json", "--approve", "alice:tech-lead", "--approve", "bob:product-owner"
    )
    assert approved.code == 0, approved.stderr
    assert approved.json()["decision"] == "approved"
