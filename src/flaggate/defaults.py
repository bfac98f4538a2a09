"""Default names shared by the loaders and the commands' options (importing this costs
nothing, so `--help` stays fast)."""

POLICIES_DIR = "policies"
"""The policy folder at the repository's root, unless ``--policies`` says otherwise."""
