"""factory_boy factories for the budget app's rows. They write rows as they are, around the
services' locks and arithmetic: for setting up a state, never for testing the budget rules."""

from datetime import timedelta

import factory
from django.conf import settings
from factory.django import DjangoModelFactory

from agentsite.core.clock import utc_now, utc_today
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope


class DailyCounterFactory(DjangoModelFactory):
    """Today's proactive counter; `used`/`reserved` as given (0 by default)."""

    class Meta:
        model = DailyCounter
        django_get_or_create = ("day", "scope")

    day = factory.LazyFunction(utc_today)
    scope = Scope.PROACTIVE


class LedgerEntryFactory(DjangoModelFactory):
    """One recorded call today (100 input tokens). It does not move any counter."""

    class Meta:
        model = LedgerEntry

    scope = Scope.PROACTIVE
    day = factory.LazyFunction(utc_today)
    model = factory.LazyFunction(lambda: settings.AGENT_MODEL)
    input_tokens = 100


class ReservationFactory(DjangoModelFactory):
    """An active reservation of 1,000 tokens today, open for an hour. It does not move any counter."""

    class Meta:
        model = Reservation

    day = factory.LazyFunction(utc_today)
    scope = Scope.PROACTIVE
    amount = 1_000
    status = ReservationStatus.ACTIVE
    expires_at = factory.LazyFunction(lambda: utc_now() + timedelta(hours=1))
