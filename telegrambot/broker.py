"""The process's Django-Q2 broker, for queueing from the webhook.

`django_q.tasks.async_task` builds a new broker (a new Redis client: a new connection,
its handshake) on every call unless it is given one; the webhook queues a task per
update, so it passes this one: built on first use, never at import, one per process
(keyed on the process id: a forked gunicorn or Django-Q2 worker builds its own, never
using its parent's socket).
"""

import os
import threading

_broker: tuple[int, object] | None = None
_lock = threading.Lock()


def task_broker():
    """This process's broker (Django-Q2's configured one: Redis, or the ORM)."""
    global _broker
    from django_q.brokers import get_broker  # Django-Q2 reads its settings on import

    with _lock:
        if _broker is None or _broker[0] != os.getpid():
            _broker = (os.getpid(), get_broker())
        return _broker[1]
