"""The budget admins: the ledger and reservations are read-only; the ledger shows today's
totals from the counters."""

import re

import pytest

from budget.models import DailyCounter, Reservation, Scope

pytestmark = pytest.mark.django_db


def test_the_ledger_is_read_only_and_shows_todays_totals_from_the_counters(admin_client, world):
    pk = world["ledger"].pk
    # The totals come from the counters: make them differ from the ledger's sum to prove it.
    DailyCounter.objects.filter(scope=Scope.PROACTIVE).update(used=4_321_000)
    html = admin_client.get("/admin/budget/ledgerentry/").content.decode()
    totals = re.search(r'id="ledger-totals".*?</table>', html, re.S).group(0)
    assert "4,321,000" in totals and "567" in totals and "500" in totals  # proactive, reactive, reserved
    assert admin_client.get("/admin/budget/ledgerentry/add/").status_code == 403
    assert admin_client.get(f"/admin/budget/ledgerentry/{pk}/delete/").status_code == 403
    filtered = admin_client.get("/admin/budget/ledgerentry/", {"scope__exact": "reactive"}).content.decode()
    assert "1 ledger entry" in filtered


def test_reservations_are_listed_read_only(admin_client, world):
    assert admin_client.get(f"/admin/budget/reservation/{world['reservation'].pk}/delete/").status_code == 403
    assert Reservation.objects.count() == 1
