"""The zygote of tests/cli_runner.py: imports flaggate's commands once, then forks a child
per request read from stdin (one JSON line each) and answers with the child's pid, then its
exit code. Never imported by tests; started as a script."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import traceback
from typing import Any

from flaggate import cli


def main() -> None:
    for module, _help in cli.COMMANDS.values():
        with contextlib.suppress(Exception):  # a broken command fails in its own runs
            importlib.import_module(module)
    while True:
        line = _read_line()
        if not line:
            return
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _answer({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _answer({"code": os.waitstatus_to_exitcode(status)})


def _read_line() -> bytes:
    """One request, read without buffering ahead (a forked child must not inherit a half-read
    buffer; the test side sends the next request only after the answer)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 65536)
        if not chunk:
            return b""
        data += chunk
    return data


def _answer(message: dict[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, name, flags in (
            (0, "stdin", os.O_RDONLY),
            (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(request[name], flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = ["flaggate", *request["argv"]]
        code = _run(request["argv"])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _run(argv: list[str]) -> int:
    """What `python -m flaggate` does with ``argv``: its exit code, a traceback and 1 for an
    exception that escapes."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        logging.shutdown()


if __name__ == "__main__":
    main()
