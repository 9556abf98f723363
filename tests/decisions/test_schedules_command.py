"""manage.py schedules: list, add (cron or words; --digest), remove, enable, disable."""

import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command

from decisions.models import MasterSchedule, ScheduleKind, Surface

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_default_digest():
    MasterSchedule.objects.all().delete()


def run(*args) -> str:
    out = io.StringIO()
    call_command("schedules", *args, stdout=out)
    return out.getvalue()


@time_machine.travel(datetime(2026, 11, 30, 7, 0, tzinfo=UTC), tick=False)
def test_add_list_disable_enable_remove():
    added = json.loads(run("add", "weekday 08:00", "Summarize yesterday", "--json"))
    assert (added["cron"], added["kind"], added["next_run_at"]) == ("0 8 * * 1-5", "task", "2026-11-30T08:00:00+00:00")
    assert MasterSchedule.objects.get().created_via == Surface.CLI
    digest_line = run("add", "0 18 * * 5", "--digest")
    assert digest_line.startswith("Added schedule #") and "digest" in digest_line

    listed = json.loads(run("list", "--json"))
    assert [s["kind"] for s in listed] == [ScheduleKind.TASK, ScheduleKind.DIGEST]
    assert "disabled" in run("disable", str(added["id"]))
    assert "next 2026-11-30 08:00 UTC" in run("enable", str(added["id"]))
    assert run("remove", str(added["id"])) == f"Removed schedule #{added['id']}.\n"
    assert MasterSchedule.objects.count() == 1


@pytest.mark.parametrize(("args", "says"), [
    (("add", "sometimes", "x"), "Not a schedule time"),
    (("add", "day 08:00"), "needs a text"),
    (("remove", "999"), "Schedule #999 does not exist"),
])
def test_bad_input_is_a_clear_command_error(args, says):
    with pytest.raises(CommandError, match=says):
        run(*args)
    assert not MasterSchedule.objects.exists()
