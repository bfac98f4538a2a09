"""A real PostgreSQL server for tests, in a temporary directory, on the loopback interface.

`running_postgres` runs ``initdb`` into a fresh directory, starts the server with ``pg_ctl`` on
a free 127.0.0.1 port (its unix socket in the same directory), creates a login role with a
password and a database it owns, yields their DSN, and stops the server (``pg_ctl stop -m
fast``, then signals if need be) afterwards. Unix-socket connections are trusted (the setup
connects that way); TCP connections need the role's password, so a wrong password is really
refused.

PostgreSQL refuses to run as root: when the tests do, the server runs as the ``postgres``
account (``runuser``) in a directory that account owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from tests.prometheus import LOOPBACK, free_port

SERVER_ACCOUNT = "postgres"
SUPERUSER = "postgres"
ROLE = "flaggate_test"
DATABASE = "flaggate_test"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
START_ATTEMPTS = 3
MISSING = (
    "the audit sink tests need a real PostgreSQL server; .ci/run installs Debian's "
    "`postgresql` package (apt-get install --no-install-recommends postgresql)"
)


@dataclass(frozen=True)
class PostgresServer:
    """A running server: the test role's DSN over TCP, and what it is made of."""

    host: str
    port: int
    role: str
    password: str
    database: str
    socket_dir: Path
    data_dir: Path

    @property
    def dsn(self) -> str:
        """``postgresql://role:password@127.0.0.1:port/database``."""
        return self.dsn_for(self.password)

    def dsn_for(self, password: str, database: str | None = None, port: int | None = None) -> str:
        """The DSN with another password, database or port (for the failure cases)."""
        return (
            f"postgresql://{quote(self.role, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{port or self.port}/{quote(database or self.database, safe='')}"
        )

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection over the unix socket (autocommit), to look at the tables."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=self.database,
            autocommit=True,
        )


def binaries(installations: Path = Path("/usr/lib/postgresql")) -> tuple[Path, Path]:
    """``initdb`` and ``pg_ctl`` of one installation: from the PATH, else Debian's
    ``/usr/lib/postgresql/<version>/bin`` (newest version first). Fails when there is none."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versions = installations.glob("*/bin")
    candidates += sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
    for directory in candidates:
        initdb, pg_ctl = directory / "initdb", directory / "pg_ctl"
        if all(p.is_file() and os.access(p, os.X_OK) for p in (initdb, pg_ctl)):
            return initdb, pg_ctl
    pytest.fail(f"initdb and pg_ctl not found: {MISSING}", pytrace=False)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def _account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        pytest.fail(
            f"the tests run as root, PostgreSQL refuses to, and there is no "
            f"`{SERVER_ACCOUNT}` account to run it as: {MISSING}",
            pytrace=False,
        )


def _command(account: pwd.struct_passwd | None, argv: Sequence[str | Path]) -> list[str]:
    prefix = ["runuser", "-u", account.pw_name, "--"] if account else []
    return prefix + [str(a) for a in argv]


def _run(
    account: pwd.struct_passwd | None, argv: Sequence[str | Path], cwd: Path, output: Path
) -> int:
    """Run a server binary (as ``account``), its output appended to ``output``."""
    with output.open("ab") as out:
        return subprocess.run(
            _command(account, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"},
            timeout=START_TIMEOUT_SECONDS + 30,
            check=False,
        ).returncode


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Initialise, start and yield a server; stop it and remove its files on exit.

    Fails (never skips) when the PostgreSQL binaries are missing.
    """
    initdb, pg_ctl = binaries()
    account = _account()
    # Not pytest's tmp_path: its parents are private to the current user, and the server
    # account must be able to reach its own directory.
    root = Path(tempfile.mkdtemp(prefix="flaggate-pg-"))
    try:
        data, sockets, log = root / "data", root / "sockets", root / "server.log"
        setup = root / "setup.log"
        sockets.mkdir()
        log.touch()
        setup.touch()
        if account is not None:
            for path in (root, sockets, log, setup):
                os.chown(path, account.pw_uid, account.pw_gid)
        code = _run(
            account,
            [
                initdb,
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            root,
            setup,
        )
        if code != 0:
            pytest.fail(f"initdb exited with code {code}:\n{_tail(setup)}", pytrace=False)
        port = _start(account, pg_ctl, data, sockets, log, root, setup)
        try:
            server = _create_database(port, sockets, data)
            yield server
        finally:
            _stop(account, pg_ctl, data, root, setup)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(
    account: pwd.struct_passwd | None,
    pg_ctl: Path,
    data: Path,
    sockets: Path,
    log: Path,
    cwd: Path,
    setup: Path,
) -> int:
    """Start the server on a free port (another, if that one was taken meanwhile)."""
    code = 0
    for _ in range(START_ATTEMPTS):
        port = free_port()
        options = " ".join(
            [
                f"-p {port}",
                f"-c listen_addresses={LOOPBACK}",
                f"-c unix_socket_directories={sockets}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=20",
            ]
        )
        code = _run(
            account,
            [
                pg_ctl,
                "start",
                "-D",
                data,
                "-l",
                log,
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                options,
            ],
            cwd,
            setup,
        )
        if code == 0:
            return port
        _stop(account, pg_ctl, data, cwd, setup)
    pytest.fail(
        f"pg_ctl start exited with code {code}:\n{_tail(setup)}\n{_tail(log)}", pytrace=False
    )


def _create_database(port: int, sockets: Path, data: Path) -> PostgresServer:
    """The test role (with a password: TCP connections need it) and its database."""
    password = "pw-" + secrets.token_urlsafe(12)
    with psycopg.connect(
        host=str(sockets), port=port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DATABASE), sql.Identifier(ROLE)
            )
        )
    return PostgresServer(LOOPBACK, port, ROLE, password, DATABASE, sockets, data)


def _stop(
    account: pwd.struct_passwd | None, pg_ctl: Path, data: Path, cwd: Path, setup: Path
) -> None:
    """``pg_ctl stop -m fast``; if the postmaster still runs, SIGQUIT then SIGKILL it."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    _run(
        account,
        [pg_ctl, "stop", "-D", data, "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_SECONDS)],
        cwd,
        setup,
    )
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        if not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
