"""The price table: model ids matched to prices, costs in micro-dollars rounded up, the
table overridable (and strictly validated) from the environment."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from budget.models import DailyCounter, LedgerEntry, Scope
from budget.pricing import (
    cost_bound_micros, cost_limit_micros, cost_micros, min_cycle_cost_micros, money_text, price_for, usd,
)
from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage
from tests.budget.test_settings import load_settings

MILLION = 1_000_000


@pytest.mark.parametrize(
    ("model", "input_price", "output_price"),
    [
        ("claude-sonnet-5-5", "3", "15"),  # the default AGENT_MODEL: its family's prefix
        ("claude-sonnet-4-5-20250929", "3", "15"),
        ("claude-haiku-4-5", "1", "5"),
        ("claude-opus-4-1", "15", "75"),
        ("claude-3-5-sonnet-20241022", "3", "15"),  # no prefix matches: the family word does
        ("claude-3-haiku-20240307", "1", "5"),
        ("CLAUDE-SONNET-5", "3", "15"),  # ids are matched without case
        ("gpt-9", "15", "75"),  # unknown: the dearest entry, so an estimate never undercounts
        ("", "15", "75"),
    ],
)
def test_a_model_takes_its_prefix_then_its_family_else_the_dearest_price(model, input_price, output_price):
    price = price_for(model=model)
    assert (price.input, price.output) == (Decimal(input_price), Decimal(output_price))


def test_cache_writes_cost_125_percent_and_reads_10_percent_of_input_by_default():
    price = price_for(model="claude-sonnet-5-5")
    assert (price.cache_write, price.cache_read) == (Decimal("3.75"), Decimal("0.3"))
    usage = TokenUsage(input=MILLION, output=MILLION, cache_creation=MILLION, cache_read=MILLION)
    assert cost_micros(usage=usage, model="claude-sonnet-5-5") == (3 + 15 + 3.75 + 0.3) * MILLION


def test_a_cost_is_rounded_up_to_the_next_micro_dollar():
    assert cost_micros(usage=TokenUsage(cache_read=1), model="claude-sonnet-5-5") == 1  # 0.3 micros
    assert cost_micros(usage=TokenUsage(cache_read=10), model="claude-sonnet-5-5") == 3
    assert cost_micros(usage=TokenUsage(), model="claude-sonnet-5-5") == 0


def test_the_cost_bound_prices_input_at_the_dearer_of_input_and_cache_write():
    # 1000 input tokens at $3.75 (cache write beats input's $3) + 200 output at $15.
    assert cost_bound_micros(input_bound=1_000, max_tokens=200, model="claude-sonnet-5-5") == 3_750 + 3_000


def test_settings_override_the_table_and_a_longer_prefix_wins(settings):
    settings.MODEL_PRICES = {
        **settings.MODEL_PRICES,
        "claude-sonnet-5": {"input": Decimal("2"), "output": Decimal("10"), "cache_read": Decimal("0.5")},
    }
    price = price_for(model="claude-sonnet-5-5")
    assert (price.input, price.output, price.cache_write, price.cache_read) == (
        Decimal("2"), Decimal("10"), Decimal("2.5"), Decimal("0.5"),
    )
    assert price_for(model="claude-sonnet-4-5").input == Decimal("3")


def test_an_empty_table_is_a_clear_error(settings):
    settings.MODEL_PRICES = {}
    with pytest.raises(ValueError, match="MODEL_PRICES is empty"):
        price_for(model="claude-sonnet-5-5")


@pytest.mark.django_db
def test_every_ledger_row_stores_its_cost_and_the_counter_sums_it(budget_limit):
    budget_limit(1_000_000)
    r = budget_reserve(amount=5_000, cost=50_000)
    settled = budget_settle(
        reservation_id=r.pk, usage=TokenUsage(input=1_000, output=100, cache_read=2_000), model="claude-sonnet-5-5",
        reservation=r,
    )
    chat = ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=500, output=50), model="claude-haiku-4-5")
    assert LedgerEntry.objects.get(pk=settled.pk).cost_micros == 3_000 + 1_500 + 600
    assert LedgerEntry.objects.get(pk=chat.pk).cost_micros == 500 + 250
    proactive = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (proactive.used_cost_micros, proactive.reserved_cost_micros) == (5_100, 0)
    assert DailyCounter.objects.get(scope=Scope.REACTIVE).used_cost_micros == 750


def test_money_reads_in_cents_above_a_dollar_and_finer_below():
    assert money_text(12_345_678) == "$12.35"
    assert money_text(4_200) == "$0.0042"
    assert money_text(0) == "$0.00"
    assert money_text(1_000_000_000) == "$1,000.00"
    assert str(usd(52_500)) == "0.052500"


def test_min_cycle_cost_prices_the_minimum_tokens_at_the_dearest_category(settings):
    settings.PROACTIVE_MIN_CYCLE_TOKENS = 1_000
    assert min_cycle_cost_micros() == 15_000  # sonnet output, $15/M


# --- the environment ----------------------------------------------------------------------


def test_model_prices_json_adds_and_replaces_entries(monkeypatch):
    loaded = load_settings(
        monkeypatch, MODEL_PRICES_JSON='{"claude-sonnet": {"input": 2.5, "output": 12}, "my-model": '
        '{"input": 0, "output": 1, "cache_write": 0.5, "cache_read": 0.01}}',
    )
    assert loaded.MODEL_PRICES["claude-sonnet"] == {"input": Decimal("2.5"), "output": Decimal("12")}
    assert loaded.MODEL_PRICES["my-model"]["cache_read"] == Decimal("0.01")
    assert loaded.MODEL_PRICES["claude-opus"]["output"] == Decimal("75")  # untouched


@pytest.mark.parametrize(
    "raw",
    [
        "not json", "[1, 2]", "{}", '{"claude-x": 3}', '{"claude-x": {"input": 3}}',
        '{"claude-x": {"input": -1, "output": 2}}', '{"claude-x": {"input": "3", "output": 2}}',
        '{"claude-x": {"input": 1, "output": 2, "cache_hit": 1}}', '{"has space": {"input": 1, "output": 2}}',
        '{"claude-x": {"input": NaN, "output": 2}}', '{"claude-x": {"input": 1e300, "output": 2}}',
    ],
)
def test_a_bad_model_prices_json_is_a_one_line_start_up_error(monkeypatch, raw):
    with pytest.raises(ImproperlyConfigured, match="MODEL_PRICES_JSON") as error:
        load_settings(monkeypatch, MODEL_PRICES_JSON=raw)
    assert "\n" not in str(error.value) and "USD per million tokens" in str(error.value)


def test_the_cost_limit_is_optional_and_exact(monkeypatch, settings):
    monkeypatch.delenv("PROACTIVE_DAILY_COST_LIMIT_USD", raising=False)
    assert load_settings(monkeypatch).PROACTIVE_DAILY_COST_LIMIT_USD is None
    loaded = load_settings(monkeypatch, PROACTIVE_DAILY_COST_LIMIT_USD="2.50")
    assert loaded.PROACTIVE_DAILY_COST_LIMIT_USD == Decimal("2.50")
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = loaded.PROACTIVE_DAILY_COST_LIMIT_USD
    assert cost_limit_micros() == 2_500_000


@pytest.mark.parametrize("raw", ["0", "-1", "five", "1e999", "inf"])
def test_a_bad_cost_limit_is_a_start_up_error(monkeypatch, raw):
    with pytest.raises(ImproperlyConfigured, match="PROACTIVE_DAILY_COST_LIMIT_USD"):
        load_settings(monkeypatch, PROACTIVE_DAILY_COST_LIMIT_USD=raw)


@pytest.mark.parametrize(
    ("raw", "thresholds"),
    [(None, [50, 80, 95]), ("90, 25", [25, 90]), ("", []), ("off", []), ("100,100", [100])],
)
def test_alert_thresholds_are_sorted_percentages_and_empty_turns_them_off(monkeypatch, raw, thresholds):
    if raw is None:
        monkeypatch.delenv("BUDGET_ALERT_THRESHOLDS", raising=False)
        loaded = load_settings(monkeypatch)
    else:
        loaded = load_settings(monkeypatch, BUDGET_ALERT_THRESHOLDS=raw)
    assert loaded.BUDGET_ALERT_THRESHOLDS == thresholds


@pytest.mark.parametrize("raw", ["0", "101", "50,,80", "half", "50.5"])
def test_bad_alert_thresholds_are_a_start_up_error(monkeypatch, raw):
    with pytest.raises(ImproperlyConfigured, match="BUDGET_ALERT_THRESHOLDS"):
        load_settings(monkeypatch, BUDGET_ALERT_THRESHOLDS=raw)


@pytest.mark.django_db
def test_the_migration_prices_the_ledger_written_before_costs_existed():
    import importlib

    from django.apps import apps

    from tests.factories.budget import DailyCounterFactory, LedgerEntryFactory

    migration = importlib.import_module("budget.migrations.0003_cost")
    old = LedgerEntryFactory(scope=Scope.PROACTIVE, model="claude-haiku-4-5", input_tokens=1_000, output_tokens=100,
                             cache_creation_input_tokens=0, cache_read_input_tokens=0, cost_micros=0)
    counter = DailyCounterFactory(day=old.day, scope=Scope.PROACTIVE, used=1_100, used_cost_micros=0)
    migration.price_existing_rows(apps, None)
    old.refresh_from_db()
    counter.refresh_from_db()
    assert old.cost_micros == 1_000 + 500 == counter.used_cost_micros
