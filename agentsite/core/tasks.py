"""The task registry: background work queued by a name, not by a dotted path.

A lower app (decisions' outbox) must be able to queue work that a higher app (telegrambot)
does without importing it. The project layer (`agentsite.tasks`, loaded in
AgentsiteConfig.ready) registers every app's task functions here by real imports, which
the import contract can see; lower apps queue them with `task_enqueue(name, ...)`."""

from collections.abc import Callable

_REGISTRY: dict[str, Callable] = {}


def task_register(name: str, func: Callable) -> None:
    _REGISTRY[name] = func


def task_path(name: str) -> str:
    """The registered function's dotted path: what a Django-Q2 schedule stores."""
    func = task_get(name)
    return f"{func.__module__}.{func.__qualname__}"


def task_get(name: str) -> Callable:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"no task registered as {name!r}") from None


def task_enqueue(name: str, *args, **options):
    """Queue the task registered as `name` on Django-Q2 (options as for async_task)."""
    from django_q.tasks import async_task

    return async_task(task_path(name), *args, **options)
