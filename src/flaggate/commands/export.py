"""`flaggate export`: the flags of each environment in a serving format (flagd).

Flags and policies are read through :func:`flaggate.catalog.load_catalog`, from the working
tree or from a commit (``--ref``), all or nothing: any file that does not load is reported (one
line each, with file and line) and nothing is written (exit 2).

Where the files go:

* ``--out -``, or no ``--out`` with exactly one environment chosen: the file is written to
  stdout (more than one environment with ``--out -`` is a usage error);
* otherwise ``--out DIR`` (default ``.``): one file per environment,
  ``DIR/<environment>.flagd.json``, creating DIR. Every file is rendered before the first is
  written, and each is written atomically (a temporary file in DIR, then renamed over the old
  one), so a reader never sees a half-written file.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flaggate.catalog import load_catalog
from flaggate.defaults import POLICIES_DIR
from flaggate.errors import UsageError
from flaggate.serve.files import write_atomically
from flaggate.serve.formats import EXPORTERS, Exporter, exporter, render_all

STDOUT = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate export`."""
    parser.add_argument(
        "--format",
        default="flagd",
        help=f"serving format ({', '.join(sorted(EXPORTERS))}; default: flagd)",
    )
    parser.add_argument(
        "--environment",
        action="append",
        metavar="ENV",
        help="an environment to export (repeatable; default: every declared environment)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="directory for the <env>.flagd.json files, created if missing (default: .), or - "
        "for stdout; without --out a single environment goes to stdout",
    )
    parser.add_argument(
        "--ref", help="read flags and policies at this commit (default: the working tree)"
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def run(args: argparse.Namespace) -> int:
    """Render every chosen environment, then print or write them; 0 on success."""
    fmt = exporter(args.format)
    with _no_cyclic_gc():
        return _export(args, fmt)


def _export(args: argparse.Namespace, fmt: Exporter) -> int:
    catalog = load_catalog(Path("."), args.ref, args.policies)
    chosen = list(dict.fromkeys(args.environment or catalog.environments()))
    catalog.require(chosen)
    to_stdout = args.out == STDOUT or (args.out is None and len(chosen) == 1)
    if to_stdout and len(chosen) != 1:
        raise UsageError(
            f"--out - writes one environment, {len(chosen)} chosen (pick one with "
            "--environment, or write files with --out DIR)"
        )
    rendered = render_all(catalog, fmt.name, chosen)
    if to_stdout:
        sys.stdout.buffer.write(rendered[chosen[0]])
        sys.stdout.flush()
        return 0
    out = Path(args.out or ".")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the directory: {exc.strerror}") from None
    for environment, content in rendered.items():
        target = out / fmt.file_name(environment)
        write_atomically(target, content)
        count = sum(environment in e.flag.spec.environments for e in catalog.flags.values())
        print(f"wrote {target} ({environment}: {count} flag(s))")
    return 0


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Loading and rendering create millions of small objects without reference cycles
    (reference counting frees them). Each full pass of the cyclic garbage collector walks
    all of them: a third of the time at 20,000 flags. On the way out the survivors are frozen
    first, so that turning the collector back on does not start by walking them once more."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
