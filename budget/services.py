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
from .pricing import cost_bound_micros, cost_limit_micros, cost_micros, money_text
from .statements import counter_count, counter_hold, reservation_close_open
from .usage import TokenUsage

logger = logging.getLogger(__name__)

# After its call's hard deadline a reservation stays open this much longer: time for the
# caller to settle it. Past that its caller is taken for dead.
RESERVATION_MARGIN = timedelta(seconds=60)
# A counter's changing fields: every save of a locked counter writes them all.
COUNTER_FIELDS = ["used", "reserved", "used_cost_micros", "reserved_cost_micros", "updated_at"]


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
    cost: int | None = None,
) -> LedgerEntry:
    """One ledger row, priced (`cost`: micros already known, an estimate's bound), counted on
    the counter; the row carries the counter's totals after it (`day_totals_after`)."""
    over = reserved is not None and usage.total > reserved
    if over:
        # Recorded as reported (the ledger is the truth); flagged so the Master can be told.
        logger.warning(
            "Claude reported %d tokens, above the %d reserved (%s, request %s)",
            usage.total, reserved, counter.scope, request_id or "-",
        )
    cost = cost_micros(usage=usage, model=model) if cost is None else cost
    counter.used += usage.total
    counter.used_cost_micros += cost
    entry = LedgerEntry.objects.create(
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
        cost_micros=cost,
    )
    entry.day_totals_after = (counter.used, counter.used_cost_micros)
    return entry


def _charge_estimated(
    *, counter: DailyCounter, reservation: Reservation, reason: str, model: str = "", request_id: str = "",
    meta: dict | None = None,
) -> LedgerEntry:
    """Turn a reservation into a ledger charge of its whole amount. Caller holds both locks."""
    if reservation.status == ReservationStatus.ACTIVE:
        counter.reserved = max(0, counter.reserved - reservation.amount)
        counter.reserved_cost_micros = max(0, counter.reserved_cost_micros - reservation.cost_micros)
    model = model or settings.AGENT_MODEL
    entry = _ledger_add(
        counter=counter,
        # The split between categories is unknown; the whole bound is booked as input, and
        # charged its whole cost bound (else the bound's tokens at the dearest input price).
        usage=TokenUsage(input=reservation.amount),
        cost=reservation.cost_micros or cost_bound_micros(input_bound=reservation.amount, max_tokens=0, model=model),
        model=model,
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


def budget_reserve(
    *, amount: int, scope: str = Scope.PROACTIVE, meta: dict | None = None, cost: int = 0
) -> Reservation:
    """Hold `amount` tokens (and `cost` micro-dollars, the call's cost bound) of today's
    budget, or raise BudgetExceeded without holding any: over the token limit, or over
    PROACTIVE_DAILY_COST_LIMIT_USD when one is set. Inside a caller's transaction it joins
    it (no savepoint): the caller commits it, and must do so before the call it covers is sent."""
    reservation = _reserve_at_once(amount=amount, scope=scope, meta=meta or {}, cost=cost)
    if reservation is not None:
        return reservation
    reservation, refusal = _reserve(amount=amount, scope=scope, meta=meta or {}, cost=cost)
    if reservation is None:
        raise refusal
    return reservation


def _reserve_at_once(*, amount: int, scope: str, meta: dict, cost: int) -> Reservation | None:
    """The common case in two statements: one conditional UPDATE checks the limit and holds
    the tokens under the counter's row lock (counter first, the one lock order; on
    PostgreSQL a concurrent reserver waits on that row and re-checks the limit against the
    committed total), then the reservation row. None, having written nothing, when the
    counter is missing, the limit would be passed or a stale reservation waits to be
    charged: `_reserve` then takes the long way."""
    day, now = utc_today(), utc_now()
    with transaction.atomic(savepoint=False):
        held = counter_hold(
            day=day, scope=scope, amount=amount, limit=settings.PROACTIVE_DAILY_TOKEN_LIMIT, now=now,
            cost=cost, cost_limit=cost_limit_micros(),
        )
        if not held:
            return None
        return Reservation.objects.create(
            day=day, scope=scope, amount=amount, cost_micros=cost, meta=meta, created_at=now,
            expires_at=now + reservation_horizon(),
        )


@transaction.atomic
def _reserve(
    *, amount: int, scope: str, meta: dict, cost: int
) -> tuple[Reservation | None, BudgetExceeded | None]:
    # Returns the refusal instead of raising it, so the stale-reservation sweep commits.
    counter = _counter_locked(day=utc_today(), scope=scope)
    _charge_stale(counter=counter)
    refusal = _refusal(counter=counter, amount=amount, cost=cost)
    if refusal is not None:
        counter.save(update_fields=COUNTER_FIELDS)
        return None, refusal
    now = utc_now()
    reservation = Reservation.objects.create(
        day=counter.day,
        scope=scope,
        amount=amount,
        cost_micros=cost,
        meta=meta,
        created_at=now,
        expires_at=now + reservation_horizon(),
    )
    counter.reserved += amount
    counter.reserved_cost_micros += cost
    counter.save(update_fields=COUNTER_FIELDS)
    return reservation, None


def _refusal(*, counter: DailyCounter, amount: int, cost: int) -> BudgetExceeded | None:
    """Why the locked `counter` can't hold `amount` tokens and `cost` micros, or None if it can."""
    limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT
    if counter.used + counter.reserved + amount > limit:
        left = max(0, limit - counter.used - counter.reserved)
        return BudgetExceeded(
            f"Proactive budget exceeded: {amount} tokens requested, {left} of {limit} left today",
            extra={"requested": amount, "used": counter.used, "reserved": counter.reserved, "limit": limit},
        )
    cost_limit = cost_limit_micros()
    if cost_limit is not None and counter.used_cost_micros + counter.reserved_cost_micros + cost > cost_limit:
        left = max(0, cost_limit - counter.used_cost_micros - counter.reserved_cost_micros)
        return BudgetExceeded(
            f"Proactive cost limit reached: up to {money_text(cost)} requested, {money_text(left)} of "
            f"{money_text(cost_limit)} left today",
            extra={"requested_cost_micros": cost, "used_cost_micros": counter.used_cost_micros,
                   "reserved_cost_micros": counter.reserved_cost_micros, "cost_limit_micros": cost_limit},
        )
    return None


def _replace_estimate(
    *, counter: DailyCounter, entry: LedgerEntry, usage: TokenUsage, model: str, request_id: str, meta: dict,
    reserved: int,
) -> LedgerEntry:
    """A call outlived its reservation and was charged an estimate; its real usage replaces it."""
    model = model or entry.model
    cost = cost_micros(usage=usage, model=model)
    counter.used += usage.total - entry.total_tokens
    counter.used_cost_micros = max(0, counter.used_cost_micros + cost - entry.cost_micros)
    entry.cost_micros = cost
    entry.input_tokens, entry.output_tokens = usage.input, usage.output
    entry.cache_creation_input_tokens, entry.cache_read_input_tokens = usage.cache_creation, usage.cache_read
    entry.model, entry.request_id, entry.meta = model, request_id or "", meta
    entry.estimated, entry.over_reservation = False, usage.total > reserved
    entry.save()
    entry.day_totals_after = (counter.used, counter.used_cost_micros)
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
            counter.reserved_cost_micros = max(0, counter.reserved_cost_micros - reservation.cost_micros)
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
    counter.save(update_fields=COUNTER_FIELDS)
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
    cost = cost_micros(usage=usage, model=model)
    with transaction.atomic():
        after = counter_count(
            day=reservation.day, scope=reservation.scope, used=usage.total, released=reservation.amount, now=now,
            used_cost=cost, released_cost=reservation.cost_micros,
        )
        if after is None:
            raise _NotOpen()
        counter = DailyCounter(day=reservation.day, scope=reservation.scope)
        entry = _ledger_add(
            counter=counter, usage=usage, model=model, request_id=request_id, meta=meta or {},
            reserved=reservation.amount, cost=cost,
        )
        entry.day_totals_after = after
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
    counter.save(update_fields=COUNTER_FIELDS)
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
    counter.save(update_fields=COUNTER_FIELDS)
    return entry


# The sweeps live in sweeps.py; re-exported here, where callers have always found them.
from .sweeps import (  # noqa: E402,F401
    reservation_expire_stale, reservations_charge_for_cycles, reservations_expire_all_stale,
)
