"""APPROVAL_REMINDER_FRACTION: a fraction from 0 (reminders off) to 0.99, strictly parsed."""

import pytest

from tests.agentsite.test_settings import config_error, load


def test_the_reminder_fraction_defaults_to_three_quarters_and_zero_turns_it_off(monkeypatch):
    assert load(monkeypatch).APPROVAL_REMINDER_FRACTION == 0.75
    assert load(monkeypatch, APPROVAL_REMINDER_FRACTION="0").APPROVAL_REMINDER_FRACTION == 0.0
    assert load(monkeypatch, APPROVAL_REMINDER_FRACTION="0.5").APPROVAL_REMINDER_FRACTION == 0.5


@pytest.mark.parametrize("value", ["-0.1", "1", "1.5", "soon", "nan"])
def test_a_bad_reminder_fraction_is_one_line(monkeypatch, value):
    assert config_error(monkeypatch, APPROVAL_REMINDER_FRACTION=value) == (
        f"Invalid configuration: APPROVAL_REMINDER_FRACTION={value!r}: expected a number from 0 to 0.99"
    )
