"""The token ledger and the per-day counters the budget is enforced on."""

import uuid

from django.db import models
from django.db.models import F, Q


class Scope(models.TextChoices):
    PROACTIVE = "proactive", "Proactive"
    REACTIVE = "reactive", "Reactive"


class LedgerEntry(models.Model):
    """One row per model call. Token categories stay separate, never pre-summed."""

    scope = models.CharField(max_length=16, choices=Scope.choices)
    day = models.DateField(help_text="UTC day the call is counted on")
    provider = models.CharField(max_length=32, default="anthropic")
    model = models.CharField(max_length=100)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=128, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    estimated = models.BooleanField(
        default=False,
        help_text="No usage could be read (reply unreadable, or its caller died): the call's whole "
        "reservation is charged, in input_tokens",
    )
    over_reservation = models.BooleanField(
        default=False, help_text="The API reported more tokens than the call had reserved"
    )
    cost_micros = models.BigIntegerField(
        default=0, help_text="Estimated cost in micro-dollars (USD / 1,000,000), from the price table "
        "(budget/pricing.py) when the row was written",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["scope", "day"], name="ledger_scope_day")]
        constraints = [models.CheckConstraint(condition=Q(cost_micros__gte=0), name="ledger_cost_non_negative")]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.scope} {self.model} {self.total_tokens} tokens"

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class DailyCounter(models.Model):
    """Running totals for one scope on one UTC day: what the budget check reads.

    `used` is settled usage (the ledger's sum, kept in the same transaction);
    `reserved` is what in-flight calls may still spend.
    """

    day = models.DateField()
    scope = models.CharField(max_length=16, choices=Scope.choices)
    used = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    # The same two, in micro-dollars (the ledger rows' cost_micros; the reservations' cost bounds).
    used_cost_micros = models.BigIntegerField(default=0)
    reserved_cost_micros = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["day", "scope"], name="counter_day_scope_unique"),
            models.CheckConstraint(condition=Q(used__gte=0), name="counter_used_non_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="counter_reserved_non_negative"
            ),
            models.CheckConstraint(condition=Q(used_cost_micros__gte=0), name="counter_used_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(reserved_cost_micros__gte=0), name="counter_reserved_cost_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scope}: used {self.used}, reserved {self.reserved}"


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"  # freed by the sweep (before estimated charges existed)
    ESTIMATED = "estimated", "Charged as estimated"


class Reservation(models.Model):
    """An upper bound held against a day's proactive budget while a call runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    day = models.DateField()
    scope = models.CharField(max_length=16, choices=Scope.choices)
    amount = models.PositiveIntegerField()
    cost_micros = models.BigIntegerField(default=0, help_text="The call's cost upper bound, in micro-dollars")
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    ledger_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="reservation",
        help_text="The ledger row that charged this reservation",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "day", "expires_at"], name="reservation_active_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reservation_amount_positive"),
            models.CheckConstraint(condition=Q(cost_micros__gte=0), name="reservation_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="reservation_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} tokens on {self.day} ({self.status})"
