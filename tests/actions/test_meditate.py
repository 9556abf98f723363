import pytest

from memory.models import MemoryEntry, MemoryKind

pytestmark = pytest.mark.django_db


def test_meditate_defaults_to_a_minute_and_sets_the_minimum_pause(run):
    result = run("meditate", {})
    assert result.status == "ok"
    assert result.data["duration"] == 60
    assert result.effects.min_next_interval_seconds == 60
    assert MemoryEntry.objects.get().kind == MemoryKind.REFLECTION


def test_meditate_is_capped_at_ten_minutes(run):
    result = run("meditate", {"duration": 100_000, "reflection_topic": "patience"})
    assert result.data["duration"] == 600
    assert result.effects.min_next_interval_seconds == 600
    assert result.data["summary"] == "reflected on patience"
