"""`manage.py policy list|set`: the same service as the admin and the API."""

import io
import json

import pytest
from django.core.management import call_command

from decisions.policy import policy_current

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("policy", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_list_shows_every_action_and_the_floors(settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 3600
    code, out, _ = run("list")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 6
    assert "meditate: act at certainty >= 0.8; approvals wait 3,600 s" in lines
    assert any(line.startswith("proactive_outreach:") and "floor: always asks" in line for line in lines)


def test_set_then_list_json():
    code, out, _ = run("set", "work_on_task", "act_at", "--min-certainty", "0.6", "--timeout", "900")
    assert code == 0 and out.strip() == "work_on_task: act at certainty >= 0.6; approvals wait 900 s"
    assert policy_current().rule("work_on_task").min_certainty == 0.6
    code, out, _ = run("list", "--json")
    rows = {row["action"]: row for row in json.loads(out)}  # only JSON
    assert (rows["work_on_task"]["updated_by"], rows["work_on_task"]["is_default"]) == ("cli (cli)", False)
    assert rows["meditate"]["is_default"] is True


@pytest.mark.parametrize(("args", "message"), [
    (("set", "dance", "act_at"), "unknown action 'dance'"),
    (("set", "meditate", "act_at", "--min-certainty", "2"), "min_certainty must be a number from 0 to 1"),
    (("set", "meditate", "act_at", "--timeout", "0"), "approval_timeout_seconds must be a whole number"),
])
def test_bad_input_exits_1_with_the_reason_and_changes_nothing(args, message):
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert message in err
    assert policy_current().is_default

