"""The `flaggate` command: a dispatch table over one module per command."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import types
from collections.abc import Iterable, Sequence

from flaggate import version

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("flaggate.commands.validate", "validate flags and policies in a working tree"),
    "plan": ("flaggate.commands.plan", "evaluate a change offline: changes, rules, stages"),
    "github": ("flaggate.commands.github", "evaluate a pull request in GitHub Actions and publish"),
    "sweep": (
        "flaggate.commands.sweep",
        "apply stage timeouts and post-incident reminders across open pull requests",
    ),
    "demo": ("flaggate.commands.demo", "plan a production change in a throwaway example repo"),
    "audit": ("flaggate.commands.audit", "query, export, verify and archive the audit log"),
    "list": ("flaggate.commands.listing", "every flag and what it serves in each environment"),
    "show": ("flaggate.commands.show", "one flag: values, states, approvers and history"),
    "set": ("flaggate.commands.set_flag", "change what a flag serves in one environment"),
    "create": ("flaggate.commands.create", "add a new flag file"),
    "init": ("flaggate.commands.init", "start a gated flag repository"),
    "export": ("flaggate.commands.export", "write the flags in a serving format (flagd)"),
    "import": ("flaggate.commands.import_flags", "bring flags in from a serving format (flagd)"),
    "completion": ("flaggate.commands.completion", "print a shell completion script"),
}
"""Command name -> (module, help). Modules are imported only when their command runs."""

LIBRARY_LOGGERS = ("github", "urllib3")
"""Loggers of the HTTP stack under PyGithub. PyGithub installs a stderr handler on import and
logs each retry there ("Request GET … failed with 403", "Retrying after 1 seconds"); urllib3
warns of each retried connection. flaggate reports what finally failed in one line of its own."""


def build_parser(only: str | None = None, all_commands: bool = False) -> argparse.ArgumentParser:
    """The argument parser. ``only`` has just that command, with its options (the one being
    run: the other modules and their dependencies stay unloaded, and no parser is made for
    them); ``all_commands`` adds every command's options, as shell completion needs. With
    neither, the commands are listed without their options (``flaggate --help``)."""
    parser = argparse.ArgumentParser(
        prog="flaggate", description="Review feature-flag changes like code."
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        if all_commands or name == only:
            importlib.import_module(module_name).add_arguments(command)
    return parser


def _command(args_list: Sequence[str]) -> str | None:
    """The command ``args_list`` runs when nothing before it but ``--debug`` could need the
    others' parsers (``--help`` lists them, an unknown command is told the known ones)."""
    for arg in args_list:
        if arg in COMMANDS:
            return arg
        if arg != "--debug":
            return None
    return None


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for (see :func:`version`)."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        print(f"flaggate {version()}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return its exit code (0 ok, 1 not approved, 2 invalid or error).

    Without ``argv`` this is the program itself (the console script, ``python -m flaggate``),
    whose process ends with the command; a caller passing ``argv`` keeps its collector as is."""
    if argv is not None:
        return _main(list(argv))
    # Nothing a command allocates needs collecting before the process exits: passes over what
    # is still alive (modules, models, the files read) find next to no garbage and cost a plan
    # about 10 ms, a validation of 20,000 files a quarter of its time. Frozen at the end, the
    # lot is also left out of the interpreter's full collection at exit (about 15 ms).
    gc.disable()
    try:
        return _main(sys.argv[1:])
    finally:
        gc.freeze()


def _main(args_list: list[str]) -> int:
    # flaggate's models use no pydantic plugin, and looking for them reads the metadata of
    # every installed distribution (about 30 ms of a 250 ms plan); nothing installed beside
    # flaggate hooks into how its files are validated either.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser(_command(args_list))
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse reports usage errors itself, with exit code 2
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # Imported once parsing is done: `--help` and usage errors stay as cheap as Python's start.
    from flaggate.errors import ConfigError, FlaggateError

    _plugin_loader()
    module = importlib.import_module(COMMANDS[args.command][0])
    _library_logs(args.debug)
    try:
        return int(module.run(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"flaggate: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except FlaggateError as exc:
        if args.debug:
            raise
        print(f"flaggate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("flaggate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # fail closed: never look like success
        if args.debug:
            raise
        failed = _github_failure(exc)
        if failed is not None:
            print(f"flaggate: error: {failed}", file=sys.stderr)
            return 2
        print(
            f"flaggate: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return 2


PLUGIN_LOADER = "pydantic.plugin._loader"
"""pydantic's plugin lookup, imported when the first model is built (see :func:`_plugin_loader`)."""

_PLUGINS_OFF = ("__all__", "1", "true")
"""The values of ``PYDANTIC_DISABLE_PLUGINS`` that turn every plugin off (as pydantic reads it)."""


def _plugin_loader() -> None:
    """Stand in for :data:`PLUGIN_LOADER` until plugins are wanted.

    pydantic imports that module as it builds a model's validator, and the module imports
    importlib.metadata (email, zipfile, csv: about 15 ms, a tenth of an offline plan) only to
    find, once it reads ``PYDANTIC_DISABLE_PLUGINS``, that no plugin is to be loaded. The
    stand-in finds none while the variable turns them all off; otherwise, and for any other
    name pydantic asks it for, it hands over to pydantic's own module, so what is validated,
    and how, does not change."""
    if PLUGIN_LOADER in sys.modules:
        return
    stand_in = types.ModuleType(PLUGIN_LOADER, "No pydantic plugins while they are disabled.")

    def get_plugins() -> Iterable[object]:
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in _PLUGINS_OFF:
            return ()
        plugins: Iterable[object] = _pydantic_loader().get_plugins()
        return plugins

    def __getattr__(name: str) -> object:
        if name.startswith("__"):  # the import system probing (__path__, __file__)
            raise AttributeError(name)
        return getattr(_pydantic_loader(), name)

    vars(stand_in).update(get_plugins=get_plugins, __getattr__=__getattr__)
    sys.modules[PLUGIN_LOADER] = stand_in


def _pydantic_loader() -> types.ModuleType:
    """pydantic's own :data:`PLUGIN_LOADER`, in place of the stand-in from then on."""
    if getattr(sys.modules.get(PLUGIN_LOADER), "__file__", None) is None:
        sys.modules.pop(PLUGIN_LOADER, None)
    return importlib.import_module(PLUGIN_LOADER)


def _library_logs(debug: bool) -> None:
    """Drop the records of :data:`LIBRARY_LOGGERS`, or with ``debug`` show them on stderr
    (INFO and up: retries and failures, never a request's or an answer's body, where tokens
    are). Call it once the command's module is imported: PyGithub sets its logger up then."""
    import logging

    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for installed in list(logger.handlers):
            logger.removeHandler(installed)
        handler: logging.Handler = logging.NullHandler()
        if debug:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("flaggate: debug: %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if debug else logging.WARNING)
        logger.propagate = False


def _github_failure(exc: Exception) -> str | None:
    """One line for a GitHub call that failed where no caller said what it was doing: GitHub
    refused it or never answered (retries exhausted, connection dropped); None for any other
    exception."""
    if "github" not in sys.modules:  # PyGithub (and requests under it) never ran
        return None
    from flaggate.github.api import explain, is_request_error

    if not is_request_error(exc):
        return None
    return str(explain(exc, "calling the GitHub API"))
