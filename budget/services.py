"""Budget writes: reserve before a proactive call; settle, charge or release after; record the rest.

Every change to a day's counter happens under a row lock on that counter
(`select_for_update`) in the same transaction as the ledger row, so any number of
concurrent workers see one consistent "used + reserved" and can never overspend.
Lock order is always counter, then reservation.

Once the API has answered a call, the call is charged: its actual usage when the reply
can be read, else its whole reservation as an estimated ledger row. Only a call that got
no answer (or an error status) gives its reservation back. A reservation whose caller
died is charged the same way, never freed: its call may have been answered and billed.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction

from agentsite.core.clock import utc_now, utc_today
from agentsite.core.deadlines import longest_call

from .errors import BudgetExceeded
from .models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from .statements import counter_count, counter_hold, reservation_close_open
from .usage import TokenUsage

logger = logging.getLogger(__name__)

# After its call's hard deadline a reservation stays open this much longer: time for the
# caller to settle it. Past that its caller is taken for dead.
RESERVATION_MARGIN = timedelta(seconds=60)


class Estimate:
    """Why a ledger row is an estimate (its meta's "estimate")."""

    UNREADABLE_REPLY = "unreadable_reply"
    STALE = "stale"
    ABANDONED = "abandoned"


def reservation_horizon() -> timedelta:
    """How long a reservation may stay open before it counts as left by a dead caller.
    Longer than any live call, so a reservation never lapses under the call it covers."""
    return longest_call() + RESERVATION_MARGIN


def _counter_locked(*, day: date, scope: str) -> DailyCounter:
    """The day's counter row, created if missing, locked for this transaction."""
    counter = DailyCounter.objects.select_for_update().filter(day=day, scope=scope).first()
    if counter is None:
        DailyCounter.objects.get_or_create(day=day, scope=scope)
        counter = DailyCounter.objects.select_for_update().get(day=day, scope=scope)
    return counter


def _ledger_add(
    *,
    counter: DailyCounter,
    usage: TokenUsage,
    model: str,
    request_id: str,
    meta: dict,
    estimated: bool = False,
    reserved: int | None = None,
) -> LedgerEntry:
    over = reserved is not None and usage.total > reserved
    if over:
        # Recorded as reported (the ledger is the truth); flagged so the Master can be told.
        logger.warning(
            "Claude reported %d tokens, above the %d reserved (%s, request %s)",
            usage.total, reserved, counter.scope, request_id or "-",
        )
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
        estimated=estimated,
        over_reservation=over,
    )


def _charge_estimated(
    *, counter: DailyCounter, reservation: Reservation, reason: str, model: str = "", request_id: str = "",
    meta: dict | None = None,
) -> LedgerEntry:
    """Turn a reservation into a ledger charge of its whole amount. Caller holds both locks."""
    if reservation.status == ReservationStatus.ACTIVE:
        counter.reserved = max(0, counter.reserved - reservation.amount)
    entry = _ledger_add(
        counter=counter,
        # The split between categories is unknown; the whole bound is booked as input.
        usage=TokenUsage(input=reservation.amount),
        model=model or settings.AGENT_MODEL,
        request_id=request_id,
        meta={**reservation.meta, **(meta or {}), "estimate": reason},
        estimated=True,
    )
    reservation.status = ReservationStatus.ESTIMATED
    reservation.closed_at = utc_now()
    reservation.ledger_entry = entry
    reservation.save(update_fields=["status", "closed_at", "ledger_entry"])
    return entry


def _charge_stale(*, counter: DailyCounter) -> int:
    """Charge what dead callers reserved and never settled. Caller holds the counter's lock."""
    stale = Reservation.objects.select_for_update().filter(
        day=counter.day,
        scope=counter.scope,
        status=ReservationStatus.ACTIVE,
        expires_at__lt=utc_now(),
    )
    charged = sum(
        _charge_estimated(counter=counter, reservation=r, reason=Estimate.STALE).total_tokens for r in stale
    )
    if charged:
        logger.warning("Charged stale budget reservations on %s as estimates: %d tokens", counter.day, charged)
    return charged


def budget_reserve(*, amount: int, scope: str = Scope.PROACTIVE, meta: dict | None = None) -> Reservation:
    """Hold `amount` tokens of today's budget, or raise BudgetExceeded without holding any.
    Inside a caller's transaction it joins it (no savepoint): the caller commits it, and
    must do so before the call it covers is sent."""
    reservation = _reserve_at_once(amount=amount, scope=scope, meta=meta or {})
    if reservation is not None:
        return reservation
    reservation, refusal = _reserve(amount=amount, scope=scope, meta=meta or {})
    if reservation is None:
        raise refusal
    return reservation


def _reserve_at_once(*, amount: int, scope: str, meta: dict) -> Reservation | None:
    """The common case in two statements: one conditional UPDATE checks the limit and holds
    the tokens under the counter's row lock (counter first, the one lock order; on
    PostgreSQL a concurrent reserver waits on that row and re-checks the limit against the
    committed total), then the reservation row. None, having written nothing, when the
    counter is missing, the limit would be passed or a stale reservation waits to be
    charged: `_reserve` then takes the long way."""
    day, now = utc_today(), utc_now()
    with transaction.atomic(savepoint=False):
        held = counter_hold(
            day=day, scope=scope, amount=amount, limit=settings.PROACTIVE_DAILY_TOKEN_LIMIT, now=now
        )
        if not held:
            return None
        return Reservation.objects.create(
            day=day, scope=scope, amount=amount, meta=meta, created_at=now, expires_at=now + reservation_horizon()
        )


@transaction.atomic
def _reserve(*, amount: int, scope: str, meta: dict) -> tuple[Reservation | None, BudgetExceeded | None]:
    # Returns the refusal instead of raising it, so the stale-reservation sweep commits.
    counter = _counter_locked(day=utc_today(), scope=scope)
    _charge_stale(counter=counter)
    limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT
    if counter.used + counter.reserved + amount > limit:
        counter.save(update_fields=["used", "reserved", "updated_at"])
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
    counter.save(update_fields=["used", "reserved", "updated_at"])
    return reservation, None


def _replace_estimate(
    *, counter: DailyCounter, entry: LedgerEntry, usage: TokenUsage, model: str, request_id: str, meta: dict,
    reserved: int,
) -> LedgerEntry:
    """A call outlived its reservation and was charged an estimate; its real usage replaces it."""
    counter.used += usage.total - entry.total_tokens
    entry.input_tokens, entry.output_tokens = usage.input, usage.output
    entry.cache_creation_input_tokens, entry.cache_read_input_tokens = usage.cache_creation, usage.cache_read
    entry.model, entry.request_id, entry.meta = model or entry.model, request_id or "", meta
    entry.estimated, entry.over_reservation = False, usage.total > reserved
    entry.save()
    return entry


def _reservation_locked(*, reservation_id) -> tuple[DailyCounter, Reservation]:
    """A reservation and its day's counter, both locked (counter first: the one lock order)."""
    reservation = Reservation.objects.get(pk=reservation_id)
    counter = _counter_locked(day=reservation.day, scope=reservation.scope)
    return counter, Reservation.objects.select_for_update().get(pk=reservation_id)


def _close(
    *, reservation_id, status: str, usage: TokenUsage | None, model: str, request_id: str, meta: dict | None
) -> LedgerEntry | None:
    """Close an open reservation as `status` (settled or released), charging whatever usage
    was reported; a late report replaces an estimate already charged."""
    meta = meta or {}
    counter, reservation = _reservation_locked(reservation_id=reservation_id)
    reported = usage is not None and usage.total > 0
    entry = None
    if reservation.status == ReservationStatus.ESTIMATED and reservation.ledger_entry_id and reported:
        entry = _replace_estimate(
            counter=counter, entry=reservation.ledger_entry, usage=usage, model=model, request_id=request_id,
            meta=meta, reserved=reservation.amount,
        )
        reservation.status = status
        reservation.save(update_fields=["status"])
    elif reservation.status == ReservationStatus.ESTIMATED:
        pass  # charged as an estimate and nothing better known: the estimate stands
    else:
        was_active = reservation.status == ReservationStatus.ACTIVE
        if was_active:
            counter.reserved = max(0, counter.reserved - reservation.amount)
            reservation.status = status
            reservation.closed_at = utc_now()
        if reported:
            entry = _ledger_add(
                counter=counter, usage=usage, model=model, request_id=request_id, meta=meta,
                reserved=reservation.amount,
            )
            if reservation.ledger_entry_id is None:
                reservation.ledger_entry = entry
        reservation.save(update_fields=["status", "closed_at", "ledger_entry"])
    counter.save(update_fields=["used", "reserved", "updated_at"])
    return entry


def budget_settle(
    *, reservation_id, usage: TokenUsage, model: str, request_id: str = "", meta: dict | None = None,
    reservation: Reservation | None = None,
) -> LedgerEntry | None:
    """Replace a reservation by the call's actual usage (one ledger row; flagged
    `over_reservation` when the API reported more than was reserved). Given the
    `reservation` as it was made, an open one is settled in three statements."""
    if reservation is not None and usage.total > 0:
        try:
            return _settle_at_once(reservation=reservation, usage=usage, model=model, request_id=request_id, meta=meta)
        except _NotOpen:
            pass  # closed meanwhile (charged as stale): the long way knows what to do
    with transaction.atomic():
        return _close(reservation_id=reservation_id, status=ReservationStatus.SETTLED, usage=usage, model=model,
                      request_id=request_id, meta=meta)


class _NotOpen(Exception):
    """The reservation was no longer open: undo the fast settle."""


def _settle_at_once(
    *, reservation: Reservation, usage: TokenUsage, model: str, request_id: str, meta: dict | None
) -> LedgerEntry:
    """Counter first (its row lock is the one every change to a reservation's status takes
    first, so the status can't move under us), then the ledger row, then the reservation,
    closed only if still open; else everything is rolled back."""
    now = utc_now()
    with transaction.atomic():
        counted = counter_count(
            day=reservation.day, scope=reservation.scope, used=usage.total, released=reservation.amount, now=now
        )
        if not counted:
            raise _NotOpen()
        counter = DailyCounter(day=reservation.day, scope=reservation.scope)
        entry = _ledger_add(
            counter=counter, usage=usage, model=model, request_id=request_id, meta=meta or {},
            reserved=reservation.amount,
        )
        closed = reservation_close_open(
            reservation=reservation, status=ReservationStatus.SETTLED, ledger_entry_id=entry.pk, now=now
        )
        if not closed:
            raise _NotOpen()
    return entry


@transaction.atomic
def budget_release(
    *, reservation_id, usage: TokenUsage | None = None, model: str = "", request_id: str = "", meta: dict | None = None
) -> LedgerEntry | None:
    """Give back the reservation of a call the API never answered (or answered with an
    error status), keeping any usage the API did report."""
    return _close(reservation_id=reservation_id, status=ReservationStatus.RELEASED, usage=usage, model=model,
                  request_id=request_id, meta=meta)


@transaction.atomic
def budget_charge_estimated(
    *, reservation_id, reason: str = Estimate.UNREADABLE_REPLY, model: str = "", request_id: str = "",
    meta: dict | None = None,
) -> LedgerEntry | None:
    """Charge a call the API answered but whose usage can't be read (an HTML or usage-less
    body, a body cut off) its whole reservation, as an estimated ledger row."""
    counter, reservation = _reservation_locked(reservation_id=reservation_id)
    if reservation.status not in (ReservationStatus.ACTIVE, ReservationStatus.EXPIRED):
        return reservation.ledger_entry  # already settled or charged: count it once
    entry = _charge_estimated(
        counter=counter, reservation=reservation, reason=reason, model=model, request_id=request_id, meta=meta
    )
    counter.save(update_fields=["used", "reserved", "updated_at"])
    return entry


@transaction.atomic
def ledger_record(
    *, scope: str, usage: TokenUsage, model: str, request_id: str = "", meta: dict | None = None,
    estimated: bool = False,
) -> LedgerEntry:
    """Record a call that needed no reservation (reactive scope: counted, not limited)."""
    counter = _counter_locked(day=utc_today(), scope=scope)
    entry = _ledger_add(
        counter=counter, usage=usage, model=model, request_id=request_id, meta=meta or {}, estimated=estimated
    )
    counter.save(update_fields=["used", "updated_at"])
    return entry


@transaction.atomic
def reservation_expire_stale(*, day: date | None = None, scope: str = Scope.PROACTIVE) -> int:
    """Sweep one day: charge reservations left by dead callers as estimates (never freed:
    their calls may have been answered). Returns the tokens charged."""
    counter = _counter_locked(day=day or utc_today(), scope=scope)
    charged = _charge_stale(counter=counter)
    counter.save(update_fields=["used", "reserved", "updated_at"])
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
    counter.save(update_fields=["used", "reserved", "updated_at"])
    if charged:
        logger.warning("Charged the open reservations of dead cycle(s) %s as estimates: %d tokens", cycle_ids, charged)
    return charged
