"""/memory <words> searches; /pin and /forget shape memory (audited, via telegram)."""

import pytest

from memory.models import MemoryEntry, MemoryRevision
from memory.services import memory_record
from memory.shaping import memory_pin
from tests.telegrambot.test_commands import reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


def test_memory_with_words_searches(bot):
    tea = memory_record(kind="reflection", content="The Master likes green tea")
    memory_record(kind="reflection", content="green garden")
    memory_pin(entry_id=tea.pk, by="m", via="api")
    text = reply(bot, "/memory green tea")
    assert text.splitlines()[0] == 'Memory matching "green tea" (1):'
    assert f"#{tea.pk} [" in text and "reflection (pinned): The Master likes green tea" in text
    assert "garden" not in text
    assert reply(bot, "/memory coffee") == 'Nothing in memory matches "coffee".'


def test_pin_and_forget(bot):
    entry = memory_record(kind="reflection", content="Keep this")
    assert reply(bot, f"/pin {entry.pk}").startswith(f"Pinned memory #{entry.pk}")
    assert MemoryEntry.objects.get().pinned
    assert reply(bot, f"/forget #{entry.pk}").startswith(f"Archived memory #{entry.pk}")
    entry.refresh_from_db()
    assert entry.archived_at is not None and not entry.pinned
    assert set(MemoryRevision.objects.values_list("via", flat=True)) == {"telegram"}
    assert all(MemoryRevision.objects.values_list("by", flat=True))  # the Master's Telegram name
    assert reply(bot, "/memory Keep") == 'Nothing in memory matches "Keep".'  # archived: out of the lists
    assert reply(bot, f"/pin {entry.pk}") == f"Memory entry #{entry.pk} is archived; restore it before pinning."


@pytest.mark.parametrize(("text", "answer"), [
    ("/pin", "Usage: /pin <id>"),
    ("/pin abc", "Usage: /pin <id>"),
    ("/pin 1 2", "Usage: /pin <id>"),
    ("/forget", "Usage: /forget <id>"),
    ("/pin 424242", "Memory entry #424242 not found."),
    ("/forget 424242", "Memory entry #424242 not found."),
])
def test_bad_pin_and_forget(bot, text, answer):
    assert reply(bot, text) == answer
    assert not MemoryRevision.objects.exists()
