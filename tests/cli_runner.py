"""The `flaggate` CLI run as a child process, without paying for Python's start each time.

Starting an interpreter and importing flaggate's commands costs about half a second, and the
suite runs the CLI hundreds of times. A zygote process (one per test process) imports them
once; each run is a fork of it: a child process of its own, with the working directory,
environment, standard streams and exit code that `python -m flaggate` would have, reaped and
killed like one. A run that starts while another is in flight (a test racing two runs), and
every run when ``FLAGGATE_TEST_SPAWN=1`` is set, starts a fresh interpreter instead.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ZYGOTE = Path(__file__).with_name("zygote.py")
SPAWN_ENV = "FLAGGATE_TEST_SPAWN"


class _Zygote:
    """One pre-imported interpreter that forks a child per run; runs go one at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.owner = -1

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None or self.owner != os.getpid():
            # Unbuffered: the pid and the exit code of a quick run arrive together, and a
            # buffered readline would take both, leaving select() nothing to wake up for.
            self.process = subprocess.Popen(
                [sys.executable, str(ZYGOTE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
            self.owner = os.getpid()
        return self.process

    def run(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        stdin: bytes,
        timeout: float,
    ) -> tuple[int, bytes, bytes]:
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        with tempfile.TemporaryDirectory(prefix="flaggate-run-") as scratch:
            streams = {name: Path(scratch) / name for name in ("stdin", "stdout", "stderr")}
            streams["stdin"].write_bytes(stdin)
            request = {
                "argv": list(argv),
                "cwd": str(cwd),
                "env": dict(env),
                **{name: str(path) for name, path in streams.items()},
            }
            pending = memoryview(json.dumps(request).encode() + b"\n")
            while pending:  # an unbuffered pipe may take a long request in parts
                pending = pending[process.stdin.write(pending) :]
            pid = int(json.loads(_read_line(process, 30))["pid"])
            try:
                code = int(json.loads(_read_line(process, timeout))["code"])
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                _read_line(process, 30)
                raise subprocess.TimeoutExpired(["flaggate", *argv], timeout) from None
            return code, streams["stdout"].read_bytes(), streams["stderr"].read_bytes()


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise subprocess.TimeoutExpired("flaggate zygote", timeout)
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("the flaggate test zygote died")
    return line


_ZYGOTE = _Zygote()


def run_cli(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes = b"",
    text: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """`python -m flaggate ARGV` in ``cwd`` with exactly ``env``; output captured (decoded
    as UTF-8 when ``text``). Raises ``subprocess.TimeoutExpired`` like ``subprocess.run``."""
    command = [sys.executable, "-m", "flaggate", *argv]
    forked = env.get(SPAWN_ENV) != "1" and os.environ.get(SPAWN_ENV) != "1"
    if forked and _ZYGOTE.lock.acquire(blocking=False):
        try:
            code, out, err = _ZYGOTE.run(argv, cwd, env, stdin, timeout)
        finally:
            _ZYGOTE.lock.release()
    else:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=dict(env),
            input=stdin,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    if text:
        return subprocess.CompletedProcess(command, code, out.decode(), err.decode())
    return subprocess.CompletedProcess(command, code, out, err)
