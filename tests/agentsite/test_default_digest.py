"""The daily digest is on by default: created on migrate at DAILY_DIGEST_HOUR, once ever,
so a digest the Master disabled or deleted stays so."""

import io

import pytest
from django.core.management import call_command

from decisions.master_schedules import master_schedule_delete, master_schedule_disable
from decisions.models import MasterSchedule, ScheduleKind, ScheduleSeed, Surface

pytestmark = pytest.mark.django_db


def migrate() -> str:
    out = io.StringIO()
    call_command("migrate", interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


@pytest.fixture
def fresh():
    """As on a new database: no schedule yet, nothing recorded."""
    MasterSchedule.objects.all().delete()
    ScheduleSeed.objects.all().delete()


def test_migrate_creates_the_daily_digest_at_the_configured_hour(fresh, settings):
    settings.DAILY_DIGEST_HOUR = 7
    output = migrate()
    digest = MasterSchedule.objects.get()
    assert f"Daily digest scheduled (#{digest.pk}, 0 7 * * * UTC)." in output
    assert (digest.kind, digest.cron, digest.enabled, digest.created_via) == (
        ScheduleKind.DIGEST, "0 7 * * *", True, Surface.SYSTEM)
    assert (digest.next_run_at.hour, digest.next_run_at.minute) == (7, 0)
    assert "Daily digest" not in migrate()
    assert MasterSchedule.objects.count() == 1


def test_a_deleted_daily_digest_is_not_created_again(fresh):
    migrate()
    master_schedule_delete(schedule_id=MasterSchedule.objects.get().pk)
    migrate()
    assert not MasterSchedule.objects.exists()


def test_a_disabled_daily_digest_stays_disabled(fresh):
    migrate()
    master_schedule_disable(schedule_id=MasterSchedule.objects.get().pk)
    migrate()
    assert list(MasterSchedule.objects.values_list("enabled", flat=True)) == [False]


def test_minus_one_creates_none_until_an_hour_is_set(fresh, settings):
    settings.DAILY_DIGEST_HOUR = -1
    migrate()
    assert not MasterSchedule.objects.exists()
    settings.DAILY_DIGEST_HOUR = 8
    migrate()
    assert MasterSchedule.objects.get().cron == "0 8 * * *"
