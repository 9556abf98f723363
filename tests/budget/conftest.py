"""Simulated waiting for the budget's model calls."""

import time
from dataclasses import dataclass, field
from typing import Callable

import pytest
import time_machine

from agentsite.core import clock
from tests.factories.budget import DailyCounterFactory, LedgerEntryFactory, ReservationFactory
from tests.factories.fixtures import factory_fixture


@dataclass
class SimulatedTime:
    """What `agentsite.core.clock.sleep` was asked to wait, and a hook run during each wait."""

    slept: list[float] = field(default_factory=list)
    offset: float = 0.0
    during_sleep: Callable[[float], None] | None = None

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def simulated_time(monkeypatch):
    """`agentsite.core.clock.sleep(s)` returns at once, having moved both clocks s forward: the
    wall clock (a time-machine traveller, still ticking) and `agentsite.core.clock.monotonic`,
    which call deadlines are measured on. Real time (socket reads) still counts."""
    with time_machine.travel(clock.utc_now(), tick=True) as traveller:
        simulated = SimulatedTime()

        def sleep(seconds: float) -> None:
            simulated.slept.append(seconds)
            simulated.offset += seconds
            traveller.shift(seconds)
            if simulated.during_sleep is not None:
                simulated.during_sleep(seconds)

        monkeypatch.setattr(clock, "sleep", sleep)
        monkeypatch.setattr(clock, "monotonic", simulated.monotonic)
        yield simulated


daily_counter_factory = factory_fixture(DailyCounterFactory, name="daily_counter_factory")
ledger_entry_factory = factory_fixture(LedgerEntryFactory, name="ledger_entry_factory")
reservation_factory = factory_fixture(ReservationFactory, name="reservation_factory")
