"""Work split across forked worker processes that share one large object by inheritance.

Sending a catalog of 20,000 flags or a log source to a worker costs more than the work, so
the object is left where fork copies it for free and only the items travel."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

_SHARED: Any = None
"""What the running :func:`fork_map` shares (set in the parent just before it forks)."""


def can_fork() -> bool:
    """Whether worker processes can be forked here (and there is more than one core)."""
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


def fork_map(function: Callable[[S, T], R], shared: S, items: Sequence[T], workers: int) -> list[R]:
    """``[function(shared, item) for item in items]``, computed in ``workers`` forked
    processes; ``function`` must be a module-level function, its results picklable."""
    return list(fork_imap(function, shared, items, workers))


def fork_imap(
    function: Callable[[S, T], R], shared: S, items: Sequence[T], workers: int
) -> Generator[R, None, None]:
    """The results of :func:`fork_map` in order, each as soon as it is computed (the caller
    works on one while the workers compute the next); closing the generator early cancels
    the items not started."""
    global _SHARED
    _SHARED = shared
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            yield from pool.map(_call, [function] * len(items), items)
    finally:
        _SHARED = None


def _call(function: Callable[[Any, T], R], item: T) -> R:
    return function(_SHARED, item)
