"""What the model calls made inside a block were charged (`claude_calls_tallied`), read from
the ledger rows as they are written, and the block where calls are refused."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from agentsite.core.context import context_set

from .models import Scope


@dataclass
class CallTally:
    """The ledger rows written for the calls made inside one `claude_calls_tallied` block:
    their four token categories and cost summed (every scope), the proactive tokens, and
    the proactive day's totals each charge moved between (`spans`: (day, (tokens, cost)
    before, (tokens, cost) after), read under the counter's lock, for the budget alerts)."""

    proactive_tokens: int = 0
    over_reservation: list = field(default_factory=list)  # LedgerEntry rows flagged over_reservation
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_micros: int = 0
    calls: int = 0
    spans: list = field(default_factory=list)


_tally: ContextVar[CallTally | None] = ContextVar("claude_call_tally", default=None)


@contextlib.contextmanager
def claude_calls_tallied() -> Iterator[CallTally]:
    """Count what the calls made inside the block are charged, without reading it back."""
    with context_set(_tally, CallTally()) as tally:
        yield tally


def claude_calls_current() -> CallTally | None:
    """The tally of the innermost `claude_calls_tallied` block running, if any."""
    return _tally.get()


def _tallied(entry):
    tally = _tally.get()
    if tally is not None and entry is not None:
        if entry.scope == Scope.PROACTIVE:
            tally.proactive_tokens += entry.total_tokens
            after = getattr(entry, "day_totals_after", None)
            if after is not None:
                tally.spans.append((entry.day, (after[0] - entry.total_tokens, after[1] - entry.cost_micros), after))
        if entry.over_reservation:
            tally.over_reservation.append(entry)
        tally.calls += 1
        tally.input_tokens += entry.input_tokens
        tally.output_tokens += entry.output_tokens
        tally.cache_creation_input_tokens += entry.cache_creation_input_tokens
        tally.cache_read_input_tokens += entry.cache_read_input_tokens
        tally.cost_micros += entry.cost_micros
    return entry


_refused: ContextVar[bool] = ContextVar("claude_calls_refused", default=False)


@contextlib.contextmanager
def claude_calls_refused() -> Iterator[None]:
    """Inside the block, `claude_complete` refuses to run: for work done inside a
    transaction, where a call's reservation could not be committed before the call."""
    with context_set(_refused, True):
        yield
