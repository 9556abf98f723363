from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tests.factories.fixtures import factory_fixture
from tests.factories.memory import MemoryEntryFactory

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


memory_entry_factory = factory_fixture(MemoryEntryFactory, name="memory_entry_factory")


@pytest.fixture
def minutes():
    """`minutes(n)`: a block in which the clock stands n minutes after a fixed start, so
    entries written in it get distinct, ordered `created_at` times."""

    def _at(n: int):
        return time_machine.travel(START + timedelta(minutes=n), tick=False)

    return _at
