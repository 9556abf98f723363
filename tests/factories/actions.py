"""factory_boy factories for the actions app's rows (Task, Skill)."""

import factory
from factory.django import DjangoModelFactory

from actions.models import PRIORITY_DEFAULT, Skill, Task, TaskSource, TaskStatus


class TaskFactory(DjangoModelFactory):
    """A pending task from the API; pass `status`, `result`, ... for any other state."""

    class Meta:
        model = Task

    title = "Write a haiku about budgets"
    priority = PRIORITY_DEFAULT
    status = TaskStatus.PENDING
    source = TaskSource.API


class SkillFactory(DjangoModelFactory):
    """A skill never practised; names differ so keys stay unique."""

    class Meta:
        model = Skill

    name = factory.Sequence(lambda n: f"Skill {n}")
