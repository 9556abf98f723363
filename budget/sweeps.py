"""Sweeps: charge, as estimates, the reservations of callers known or taken for dead
(never freed: their calls may have been answered and billed)."""

import logging
from datetime import date

from django.db import transaction

from agentsite.core.clock import utc_now, utc_today

from .models import Reservation, ReservationStatus, Scope
from .services import COUNTER_FIELDS, Estimate, _charge_estimated, _charge_stale, _counter_locked

logger = logging.getLogger("budget.services")


@transaction.atomic
def reservation_expire_stale(*, day: date | None = None, scope: str = Scope.PROACTIVE) -> int:
    """Sweep one day: charge reservations left by dead callers as estimates (never freed:
    their calls may have been answered). Returns the tokens charged."""
    counter = _counter_locked(day=day or utc_today(), scope=scope)
    charged = _charge_stale(counter=counter)
    counter.save(update_fields=COUNTER_FIELDS)
    return charged


def reservations_expire_all_stale() -> int:
    """Sweep every day, not just today: a reservation left at 23:59 by a dead caller
    must not stay on yesterday's counter for ever. Returns the tokens charged."""
    stale = (
        Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lt=utc_now())
        .order_by()
        .values_list("day", "scope")
        .distinct()
    )
    return sum(reservation_expire_stale(day=day, scope=scope) for day, scope in list(stale))


def reservations_charge_for_cycles(*, cycle_ids: list[int]) -> int:
    """Charge the open reservations of cycles known dead (their meta's "cycle_id") at once
    as estimates, instead of waiting for them to go stale. Returns the tokens charged."""
    if not cycle_ids:
        return 0
    groups = (
        Reservation.objects.filter(status=ReservationStatus.ACTIVE, meta__cycle_id__in=list(cycle_ids))
        .order_by()
        .values_list("day", "scope")
        .distinct()
    )
    return sum(_charge_cycles_on(day=day, scope=scope, cycle_ids=list(cycle_ids)) for day, scope in list(groups))


@transaction.atomic
def _charge_cycles_on(*, day: date, scope: str, cycle_ids: list[int]) -> int:
    counter = _counter_locked(day=day, scope=scope)
    dead = Reservation.objects.select_for_update().filter(
        day=day, scope=scope, status=ReservationStatus.ACTIVE, meta__cycle_id__in=cycle_ids
    )
    charged = sum(
        _charge_estimated(counter=counter, reservation=r, reason=Estimate.ABANDONED).total_tokens for r in dead
    )
    counter.save(update_fields=COUNTER_FIELDS)
    if charged:
        logger.warning("Charged the open reservations of dead cycle(s) %s as estimates: %d tokens", cycle_ids, charged)
    return charged
