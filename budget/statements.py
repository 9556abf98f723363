"""The hot path's budget writes as SQL written once per connection, then run raw.

Building these conditional UPDATEs through the ORM (F-expressions, an Exists subquery,
Greatest) costs several times what running them costs SQLite; the statements are the
same ones the ORM sends (same tables, columns, conditions), their values adapted by the
connection's own operations. Each returns the rows it changed, as `QuerySet.update` does.
"""

import functools
from datetime import date, datetime

from django.db import connections, router

from .models import DailyCounter, Reservation, ReservationStatus


def _conn(model):
    return connections[router.db_for_write(model)]


def _returning(conn) -> bool:
    """UPDATE ... RETURNING works here (PostgreSQL; SQLite from 3.35, as INSERT ... RETURNING)."""
    return conn.features.can_return_columns_from_insert


@functools.lru_cache(maxsize=8)
def _sql(conn) -> dict[str, str]:
    q = conn.ops.quote_name
    counter, reservation = q(DailyCounter._meta.db_table), q(Reservation._meta.db_table)
    return {
        # Holds `amount` tokens and `cost` micros when both limits allow them and no stale
        # reservation waits to be charged.
        "hold": (
            f"UPDATE {counter} SET {q('reserved')} = {q('reserved')} + %s,"
            f" {q('reserved_cost_micros')} = {q('reserved_cost_micros')} + %s, {q('updated_at')} = %s"
            f" WHERE {q('day')} = %s AND {q('scope')} = %s AND {q('used')} + {q('reserved')} <= %s"
            f" AND {q('used_cost_micros')} + {q('reserved_cost_micros')} <= %s"
            f" AND NOT EXISTS (SELECT 1 FROM {reservation} U0 WHERE U0.{q('day')} = {counter}.{q('day')}"
            f" AND U0.{q('scope')} = {counter}.{q('scope')} AND U0.{q('status')} = %s"
            f" AND U0.{q('expires_at')} < %s)"
        ),
        # Charges `used` (tokens and cost) and gives back the reservation (never below zero);
        # returns the totals after it (what a budget alert compares with its thresholds).
        "count": (
            f"UPDATE {counter} SET {q('used')} = {q('used')} + %s,"
            f" {q('reserved')} = CASE WHEN {q('reserved')} - %s > 0 THEN {q('reserved')} - %s ELSE 0 END,"
            f" {q('used_cost_micros')} = {q('used_cost_micros')} + %s,"
            f" {q('reserved_cost_micros')} = CASE WHEN {q('reserved_cost_micros')} - %s > 0"
            f" THEN {q('reserved_cost_micros')} - %s ELSE 0 END,"
            f" {q('updated_at')} = %s WHERE {q('day')} = %s AND {q('scope')} = %s"
            + (f" RETURNING {q('used')}, {q('used_cost_micros')}" if _returning(conn) else "")
        ),
        # Where UPDATE ... RETURNING is missing (SQLite before 3.35): the totals read after it.
        "totals": (
            f"SELECT {q('used')}, {q('used_cost_micros')} FROM {counter} WHERE {q('day')} = %s AND {q('scope')} = %s"
        ),
        # Closes a reservation only while it is still open.
        "close": (
            f"UPDATE {reservation} SET {q('status')} = %s, {q('closed_at')} = %s, {q('ledger_entry_id')} = %s"
            f" WHERE {q('id')} = %s AND {q('status')} = %s"
        ),
    }


def _run(conn, name: str, params: list) -> int:
    with conn.cursor() as cursor:
        cursor.execute(_sql(conn)[name], params)
        return cursor.rowcount


# What a cost limit is when none is set: no day's spend reaches it.
NO_COST_LIMIT = 2**62


def counter_hold(
    *, day: date, scope: str, amount: int, limit: int, now: datetime, cost: int = 0, cost_limit: int | None = None
) -> int:
    """UPDATE the day's counter to hold `amount` tokens and `cost` micros if used + reserved +
    amount <= `limit`, the same for cost against `cost_limit` (None: no limit), and no
    reservation of that day and scope is open past its expiry; 1 if held, else 0."""
    conn = _conn(DailyCounter)
    ops = conn.ops
    at = ops.adapt_datetimefield_value(now)
    cost_room = (NO_COST_LIMIT if cost_limit is None else cost_limit) - cost
    return _run(conn, "hold", [
        amount, cost, at, ops.adapt_datefield_value(day), scope, limit - amount, cost_room,
        ReservationStatus.ACTIVE.value, at,
    ])


def counter_count(
    *, day: date, scope: str, used: int, released: int, now: datetime, used_cost: int = 0, released_cost: int = 0
) -> tuple[int, int] | None:
    """UPDATE the day's counter: `used` more, `released` less reserved (floored at 0), the
    same for cost; the counter's used tokens and cost after it, or None if it has no row."""
    conn = _conn(DailyCounter)
    ops = conn.ops
    with conn.cursor() as cursor:
        cursor.execute(_sql(conn)["count"], [
            used, released, released, used_cost, released_cost, released_cost,
            ops.adapt_datetimefield_value(now), ops.adapt_datefield_value(day), scope,
        ])
        if _returning(conn):
            row = cursor.fetchone()
        elif cursor.rowcount:
            cursor.execute(_sql(conn)["totals"], [ops.adapt_datefield_value(day), scope])
            row = cursor.fetchone()
        else:
            row = None
    return None if row is None else (int(row[0]), int(row[1]))


def reservation_close_open(*, reservation: Reservation, status: str, ledger_entry_id: int, now: datetime) -> int:
    """UPDATE one reservation to `status` if it is still active; 1 if closed, else 0."""
    conn = _conn(Reservation)
    pk = Reservation._meta.pk.get_db_prep_value(reservation.pk, conn)
    return _run(conn, "close", [
        str(status), conn.ops.adapt_datetimefield_value(now), ledger_entry_id, pk, ReservationStatus.ACTIVE.value,
    ])
