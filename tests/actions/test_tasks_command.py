import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from actions.models import Task, TaskStatus
from tests.factories.actions import TaskFactory

pytestmark = pytest.mark.django_db


def tasks(*args) -> str:
    out = io.StringIO()
    call_command("tasks", *args, stdout=out)
    return out.getvalue()


def last_json(output: str):
    return json.loads(output.strip().splitlines()[-1])


def test_tasks_add_creates_a_pending_cli_task_and_prints_it_as_json():
    data = last_json(tasks("add", "Write the newsletter", "--description", "May issue", "--priority", "2", "--json"))
    task = Task.objects.get()
    assert data == {
        "id": task.pk,
        "title": "Write the newsletter",
        "description": "May issue",
        "priority": 2,
        "status": "pending",
        "source": "cli",
        "result": "",
        "created_at": task.created_at.isoformat(),
    }


def test_tasks_add_without_json_prints_a_line():
    assert "Added task #" in tasks("add", "Water plants")
    assert Task.objects.get().priority == 3


@pytest.mark.parametrize("priority", ["0", "6"])
def test_tasks_add_refuses_a_priority_outside_one_to_five(priority):
    with pytest.raises(CommandError, match="Priority must be a whole number from 1"):
        tasks("add", "x", "--priority", priority)
    assert Task.objects.count() == 0


def test_tasks_add_refuses_a_blank_title():
    with pytest.raises(CommandError, match="needs a title"):
        tasks("add", "   ")


def test_a_bad_priority_exits_with_status_one_from_the_command_line(capsys):
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "tasks", "add", "x", "--priority", "9"])
    assert exited.value.code == 1
    assert "Priority must be a whole number from 1" in capsys.readouterr().err


def test_tasks_list_prints_a_json_list_most_urgent_first():
    low = TaskFactory(title="low", priority=4)
    high = TaskFactory(title="high", priority=1)
    data = last_json(tasks("list", "--json"))
    assert [t["id"] for t in data] == [high.pk, low.pk]
    assert set(data[0]) == {"id", "title", "description", "priority", "status", "source", "result", "created_at"}


def test_tasks_list_filters_by_status():
    TaskFactory(title="open")
    done = TaskFactory(title="finished", status=TaskStatus.DONE, result="all good")
    data = last_json(tasks("list", "--status", "done", "--json"))
    assert [(t["id"], t["result"]) for t in data] == [(done.pk, "all good")]


def test_tasks_list_without_json_is_human_readable():
    TaskFactory(title="Water plants")
    assert "Water plants" in tasks("list")
    Task.objects.all().delete()
    assert "No tasks." in tasks("list")


def test_tasks_list_with_an_empty_database_is_an_empty_json_list():
    assert last_json(tasks("list", "--json")) == []
