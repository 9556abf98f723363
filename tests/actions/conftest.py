import pytest

from actions.registry import ActionContext, action_execute
from tests.factories.actions import SkillFactory, TaskFactory
from tests.factories.fixtures import factory_fixture


@pytest.fixture
def run():
    """Run an action through the registry, as the decision engine does."""

    def _run(action: str, details: dict, *, cycle_id: int | None = 7, approval_id: int | None = None):
        return action_execute(
            action=action, details=details, context=ActionContext(cycle_id=cycle_id, approval_id=approval_id)
        )

    return _run


task_factory = factory_fixture(TaskFactory, name="task_factory")
skill_factory = factory_fixture(SkillFactory, name="skill_factory")
