"""The one backoff rule, as each of its users applies it, and the wait a 429 asks for."""

from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from telegrambot.backoff import backoff_delay, retry_after_seconds
from telegrambot.polling import _backoff_seconds
from telegrambot.updates import RETRY_BASE_SECONDS, RETRY_CAP_SECONDS


def test_updates_wait_30_s_doubling_up_to_half_an_hour():
    waits = [backoff_delay(attempts=n, base_seconds=RETRY_BASE_SECONDS, cap_seconds=RETRY_CAP_SECONDS)
             for n in (1, 2, 3, 6, 7, 500)]
    assert [w.total_seconds() for w in waits] == [30, 60, 120, 960, 1800, 1800]


def test_the_poller_waits_a_second_doubling_up_to_a_minute():
    assert [_backoff_seconds(n) for n in (1, 2, 3, 6, 7, 8)] == [1.0, 2.0, 4.0, 32.0, 60.0, 60.0]


def test_no_failure_yet_waits_the_base():
    assert backoff_delay(attempts=0, base_seconds=5, cap_seconds=600) == timedelta(seconds=5)


@pytest.mark.parametrize("given", [7, timedelta(seconds=7)])
def test_retry_after_is_read_in_seconds_whatever_type_ptb_gives(given):
    assert retry_after_seconds(RetryAfter(given)) == 7.0
