"""The old name of the shared task factory, for tests outside actions that still import it;
new tests use `tests.factories.actions.TaskFactory` (or the `task_factory` fixture)."""

from tests.factories.actions import TaskFactory as make_task

__all__ = ["make_task"]
