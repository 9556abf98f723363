"""Budget writes: reserve before a proactive call, settle or release after, record the rest.

Every change to a day's counter happens under a row lock on that counter
(`select_for_update`) in the same transaction as the ledger row, so any number of
concurrent workers see one consistent "used + reserved" and can never overspend.
Lock order is always counter, then reservation.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from .clock import utc_now, utc_today
from .errors import BudgetExceeded
from .models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from .usage import TokenUsage

logger = logging.getLogger(__name__)


def _counter_locked(*, day: date, scope: str) -> DailyCounter:
    """The day's counter row, created if missing, locked for this transaction."""
    counter = DailyCounter.objects.select_for_update().filter(day=day, scope=scope).first()
    if counter is None:
        DailyCounter.objects.get_or_create(day=day, scope=scope)
        counter = DailyCounter.objects.select_for_update().get(day=day, scope=scope)
    return counter


def _expire_stale(*, counter: DailyCounter) -> int:
    """Give back what crashed callers reserved and never settled. Caller holds the lock."""
    stale = Reservation.objects.select_for_update().filter(
        day=counter.day,
        scope=counter.scope,
        status=ReservationStatus.ACTIVE,
        expires_at__lt=utc_now(),
    )
    freed = stale.aggregate(total=Sum("amount"))["total"] or 0
    if freed:
        stale.update(status=ReservationStatus.EXPIRED, closed_at=utc_now())
        counter.reserved = max(0, counter.reserved - freed)
        logger.warning("Expired stale budget reservations on %s: %d tokens freed", counter.day, freed)
    return freed


def longest_call() -> timedelta:
    """The longest one model call should take: every attempt timing out, plus backoff."""
    attempts = settings.AGENT_LLM_MAX_RETRIES + 1
    return timedelta(seconds=settings.AGENT_LLM_TIMEOUT_SECONDS * attempts + 60)


# The SDK honours an API's retry-after without a cap, so a live call may outlast
# longest_call(); a reservation must never expire under it (that would let the day be
# overspent), so it is held for at least this long. A crashed caller's hold costs little.
RESERVATION_MIN_HOLD = timedelta(hours=1)


def reservation_horizon() -> timedelta:
    """How long a reservation may stay open before it counts as left by a crashed caller."""
    return max(longest_call() + timedelta(minutes=2), RESERVATION_MIN_HOLD)


def budget_reserve(*, amount: int, scope: str = Scope.PROACTIVE, meta: dict | None = None) -> Reservation:
    """Hold `amount` tokens of today's budget, or raise BudgetExceeded without holding any."""
    reservation, refusal = _reserve(amount=amount, scope=scope, meta=meta or {})
    if reservation is None:
        raise refusal
    return reservation


@transaction.atomic
def _reserve(*, amount: int, scope: str, meta: dict) -> tuple[Reservation | None, BudgetExceeded | None]:
    # Returns the refusal instead of raising it, so the stale-reservation sweep commits.
    counter = _counter_locked(day=utc_today(), scope=scope)
    _expire_stale(counter=counter)
    limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT
    if counter.used + counter.reserved + amount > limit:
        counter.save(update_fields=["reserved", "updated_at"])
        left = max(0, limit - counter.used - counter.reserved)
        return None, BudgetExceeded(
            f"Proactive budget exceeded: {amount} tokens requested, {left} of {limit} left today",
            extra={"requested": amount, "used": counter.used, "reserved": counter.reserved, "limit": limit},
        )
    now = utc_now()
    reservation = Reservation.objects.create(
        day=counter.day,
        scope=scope,
        amount=amount,
        meta=meta,
        created_at=now,
        expires_at=now + reservation_horizon(),
    )
    counter.reserved += amount
    counter.save(update_fields=["reserved", "updated_at"])
    return reservation, None


def _ledger_add(
    *, counter: DailyCounter, usage: TokenUsage, model: str, request_id: str, meta: dict
) -> LedgerEntry:
    counter.used += usage.total
    return LedgerEntry.objects.create(
        scope=counter.scope,
        day=counter.day,
        model=model,
        input_tokens=usage.input,
        output_tokens=usage.output,
        cache_creation_input_tokens=usage.cache_creation,
        cache_read_input_tokens=usage.cache_read,
        request_id=request_id or "",
        meta=meta or {},
    )


def _close(
    *, reservation_id, status: str, usage: TokenUsage | None, model: str, request_id: str, meta: dict
) -> LedgerEntry | None:
    reservation = Reservation.objects.get(pk=reservation_id)
    counter = _counter_locked(day=reservation.day, scope=reservation.scope)
    reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
    if reservation.status == ReservationStatus.ACTIVE:
        # An expired reservation was already given back by the sweep.
        counter.reserved = max(0, counter.reserved - reservation.amount)
        reservation.status = status
        reservation.closed_at = utc_now()
        reservation.save(update_fields=["status", "closed_at"])
    entry = None
    if usage is not None and usage.total:
        entry = _ledger_add(counter=counter, usage=usage, model=model, request_id=request_id, meta=meta)
    counter.save(update_fields=["used", "reserved", "updated_at"])
    return entry


@transaction.atomic
def budget_settle(
    *, reservation_id, usage: TokenUsage, model: str, request_id: str = "", meta: dict | None = None
) -> LedgerEntry | None:
    """Replace a reservation by the call's actual usage (one ledger row)."""
    return _close(
        reservation_id=reservation_id,
        status=ReservationStatus.SETTLED,
        usage=usage,
        model=model,
        request_id=request_id,
        meta=meta or {},
    )


@transaction.atomic
def budget_release(
    *,
    reservation_id,
    usage: TokenUsage | None = None,
    model: str = "",
    request_id: str = "",
    meta: dict | None = None,
) -> LedgerEntry | None:
    """Give a failed call's reservation back, keeping any usage the API did report."""
    return _close(
        reservation_id=reservation_id,
        status=ReservationStatus.RELEASED,
        usage=usage,
        model=model,
        request_id=request_id,
        meta=meta or {},
    )


@transaction.atomic
def ledger_record(
    *, scope: str, usage: TokenUsage, model: str, request_id: str = "", meta: dict | None = None
) -> LedgerEntry:
    """Record a call that needed no reservation (reactive scope: counted, not limited)."""
    counter = _counter_locked(day=utc_today(), scope=scope)
    entry = _ledger_add(counter=counter, usage=usage, model=model, request_id=request_id, meta=meta or {})
    counter.save(update_fields=["used", "updated_at"])
    return entry


@transaction.atomic
def reservation_expire_stale(*, day: date | None = None, scope: str = Scope.PROACTIVE) -> int:
    """Sweep: free reservations left by crashed processes. Returns the tokens freed."""
    counter = _counter_locked(day=day or utc_today(), scope=scope)
    freed = _expire_stale(counter=counter)
    counter.save(update_fields=["reserved", "updated_at"])
    return freed


def reservations_expire_all_stale() -> int:
    """Sweep every day, not just today: a reservation left at 23:59 by a crashed caller
    must not stay on yesterday's counter for ever. Returns the tokens freed."""
    stale = (
        Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lt=utc_now())
        .values_list("day", "scope")
        .distinct()
    )
    return sum(reservation_expire_stale(day=day, scope=scope) for day, scope in list(stale))
