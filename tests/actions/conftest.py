import pytest

from actions.registry import ActionContext, action_execute
from tests.factories.actions import SkillFactory, TaskFactory


@pytest.fixture
def run():
    """Run an action through the registry, as the decision engine does."""

    def _run(action: str, details: dict, *, cycle_id: int | None = 7, approval_id: int | None = None):
        return action_execute(
            action=action, details=details, context=ActionContext(cycle_id=cycle_id, approval_id=approval_id)
        )

    return _run


@pytest.fixture
def task_factory(db):
    """`task_factory(status=..., ...)` builds a Task row (see tests.factories.actions)."""
    return TaskFactory


@pytest.fixture
def skill_factory(db):
    return SkillFactory
