"""manage.py memory: search, shape (audited via cli), consolidate; bad input is a clear error."""

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from agentsite.core.clock import utc_now
from decisions.agent import agent_state_get
from memory.models import MemoryEntry, MemoryRevision
from memory.services import memory_record

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("memory", *args, stdout=out)
    return out.getvalue()


def test_search_prints_the_matches_or_json():
    tea = memory_record(kind="reflection", content="green tea at four")
    memory_record(kind="reflection", content="coffee")
    assert run("search", "green", "tea").startswith(f"#{tea.pk}")
    assert [e["id"] for e in json.loads(run("search", "tea", "--json"))] == [tea.pk]
    assert run("search", "nothing-here") == "Nothing matches.\n"


def test_pin_archive_restore_and_edit_are_audited_via_cli():
    entry = memory_record(kind="reflection", content="draft")
    assert "pinned" in run("pin", str(entry.pk))
    assert json.loads(run("archive", str(entry.pk), "--json"))["archived_at"]
    assert "live" in run("restore", str(entry.pk))
    assert "final" in run("edit", str(entry.pk), "final")
    assert set(MemoryRevision.objects.values_list("via", flat=True)) == {"cli"}
    assert MemoryEntry.objects.get().content == "final"


@pytest.mark.parametrize(("args", "error"), [
    (("pin", "999"), "Memory entry #999 not found"),
    (("edit", "1", "  "), "empty"),
    (("search", "x", "--limit", "0"), "--limit must be 1 to 100"),
])
def test_bad_input_is_a_clear_error(args, error):
    memory_record(kind="reflection", content="kept")
    with pytest.raises(CommandError, match=error):
        run(*args)
    assert MemoryEntry.objects.get().content == "kept" and not MemoryRevision.objects.exists()


def test_consolidate_runs_today_once(claude):
    agent_state_get()
    with time_machine.travel(utc_now() - timedelta(days=8), tick=False):
        for i in range(5):
            memory_record(kind="reflection", content=f"old {i}")
    claude.reply_json({"digest": "five old thoughts"})
    assert "completed: folded 5 entries into digest" in run("consolidate")
    assert json.loads(run("consolidate", "--json")) is None
