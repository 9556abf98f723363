"""A context variable set for the length of a block: how one piece of work tells the code
it calls something (a tally to add to, a deferral, a refusal) without passing it down."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def context_set(var: ContextVar[T], value: T) -> Iterator[T]:
    """`var` is `value` inside the block (and in tasks started there), as before after it."""
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)
