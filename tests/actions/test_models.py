import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from actions.models import Skill, Task, TaskSource
from tests.factories.actions import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("priority", [0, 6])
def test_the_database_refuses_a_priority_outside_one_to_five(priority):
    with pytest.raises(IntegrityError):
        TaskFactory(priority=priority)


def test_the_database_refuses_an_unknown_status():
    with pytest.raises(IntegrityError):
        TaskFactory(status="paused")


def test_tasks_are_ordered_by_priority_then_age():
    later = TaskFactory(priority=2)
    first = TaskFactory(priority=2)
    urgent = TaskFactory(priority=1)
    Task.objects.filter(pk=later.pk).update(created_at=first.created_at.replace(year=first.created_at.year + 1))
    assert list(Task.objects.all()) == [urgent, first, later]


def test_skill_names_are_unique_whatever_their_case_and_spacing():
    Skill.objects.create(name="Data  Science")
    with pytest.raises(IntegrityError):
        Skill.objects.create(name="data science")


def test_a_duplicate_skill_name_is_a_form_error_not_a_crash():
    Skill.objects.create(name="Chess")
    with pytest.raises(ValidationError) as error:
        Skill(name="CHESS").full_clean()
    assert "name" in error.value.message_dict


def test_str_is_readable():
    task = TaskFactory(title="Water plants", source=TaskSource.CLI)
    assert str(task) == f"#{task.pk} Water plants (pending)"
    assert str(Skill.objects.create(name="Chess")) == "Chess"
