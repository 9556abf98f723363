"""Django-Q2 tasks of the budget app (thin: they call services)."""

from .services import reservations_expire_all_stale


def reservations_sweep_task() -> int:
    return reservations_expire_all_stale()
