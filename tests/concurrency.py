"""Run one function in several threads released at the same instant, as racing workers.

Each thread closes its own database connection when done; an exception in any thread is
re-raised here, so a race test never passes by losing a worker's error."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_at_once(fn: Callable[[], T], *, count: int, timeout: float = 30) -> list[T]:
    """`fn()` in `count` threads started together; their results, in finishing order."""
    start = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(fn())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    return results
