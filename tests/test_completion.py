"""`flaggate completion bash|zsh|fish`: scripts generated from the full parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flaggate.cli import COMMANDS, build_parser
from tests.gitrepo import GitRepo

SYNTAX_CHECKS = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each shell's script, written by the CLI (in a folder that is no repository)."""
    repo = GitRepo(tmp_path_factory.mktemp("completion"))
    found = {}
    for shell in SYNTAX_CHECKS:
        result = repo.flaggate("completion", shell)
        assert (result.code, result.stderr) == (0, ""), shell
        path = repo.root / f"flaggate.{shell}"
        path.write_text(result.stdout)
        found[shell] = path
    return found


@pytest.mark.parametrize("shell", sorted(SYNTAX_CHECKS))
def test_every_command_and_option_is_in_the_script(scripts: dict[str, Path], shell: str) -> None:
    text = scripts[shell].read_text()
    for command in COMMANDS:
        assert command in text, (shell, command)
    for option in ("--rollout", "--no-targeting", "--variants", "--environment", "--base"):
        spelt = f"-l {option[2:]}" if shell == "fish" else option
        assert spelt in text, (shell, option)


@pytest.mark.parametrize("shell", sorted(SYNTAX_CHECKS))
def test_the_script_parses_in_its_shell(scripts: dict[str, Path], shell: str) -> None:
    check = SYNTAX_CHECKS[shell]
    assert shutil.which(check[0]), f"{check[0]} is not installed: scripts/test.sh installs it"
    done = subprocess.run([*check, str(scripts[shell])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_bash_registers_the_completion_and_completes_options(scripts: dict[str, Path]) -> None:
    probe = (
        f"source {scripts['bash']}; complete -p flaggate; "
        "COMP_WORDS=(flaggate set flag env --no-t); COMP_CWORD=4; "
        'COMP_LINE="flaggate set flag env --no-t"; COMP_POINT=${#COMP_LINE}; '
        "_shtab_flaggate; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(" flaggate") and "-F _shtab_flaggate" in lines[0]
    assert lines[1:] == ["--no-targeting"]


def test_the_full_parser_knows_every_commands_options() -> None:
    parser = build_parser(all_commands=True)
    args = parser.parse_args(["set", "f", "production", "--on", "--rollout", "on=50,off=50"])
    assert (args.command, args.enabled, args.rollout) == ("set", True, "on=50,off=50")
    args = parser.parse_args(["list", "--format", "json", "--environment", "staging"])
    assert (args.format, args.environment) == ("json", ["staging"])
    args = parser.parse_args(["validate", "--format", "github"])
    assert args.format == "github"
    only = build_parser("show")
    with pytest.raises(SystemExit):
        only.parse_args(["list", "--format", "json"])  # list's options are not loaded
