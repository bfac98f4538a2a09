"""`flaggate completion bash|zsh|fish`: a shell completion script, generated from the argument
parser itself (shtab), so that every command and option completes as the CLI defines it.

Install (see the README):

    flaggate completion bash > ~/.local/share/bash-completion/completions/flaggate
    flaggate completion zsh > ~/.zfunc/_flaggate      # with fpath+=(~/.zfunc) before compinit
    flaggate completion fish > ~/.config/fish/completions/flaggate.fish
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import shtab

SHELLS = ("bash", "zsh", "fish")

_DIRECTORY_METAVARS = frozenset({"DIR", "SUBDIR"})
_FILE_METAVARS = frozenset({"FILE", "PATH"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate completion`."""
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    """Print the script; 0."""
    sys.stdout.write(script(args.shell))
    return 0


def script(shell: str) -> str:
    """The completion script of ``flaggate`` for ``shell``."""
    from flaggate.cli import build_parser  # the CLI imports this module only when run

    parser = build_parser(all_commands=True)
    _complete_paths(parser)
    text: str = shtab.complete(parser, shell=shell)
    return text if text.endswith("\n") else text + "\n"


def _complete_paths(parser: argparse.ArgumentParser) -> None:
    """Options and arguments naming files or folders complete as paths."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):
                _complete_paths(subparser)
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if metavar in _DIRECTORY_METAVARS or action.dest in ("repo", "directory", "out"):
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
        elif metavar in _FILE_METAVARS or action.type is Path:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
