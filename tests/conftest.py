"""Shared fixtures: loopback fakes of the external APIs and settings pointing at them."""

import pytest
from django.db import connection

from tests.fakes.anthropic_api import FakeAnthropic

TEST_API_KEY = "test-anthropic-key-never-real-0001"
TEST_OAUTH_TOKEN = "test-oauth-token-never-real-0002"


@pytest.fixture(scope="session")
def _anthropic_server():
    server = FakeAnthropic().start()
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(_anthropic_server):
    """The fake Messages API, emptied for each test."""
    _anthropic_server.reset()
    yield _anthropic_server
    _anthropic_server.reset()


@pytest.fixture
def claude(settings, fake_anthropic):
    """Claude configured with a test key and pointed at the fake; returns the fake."""
    settings.ANTHROPIC_API_KEY = TEST_API_KEY
    settings.CLAUDE_CODE_OAUTH_TOKEN = ""
    settings.ANTHROPIC_BASE_URL = fake_anthropic.url
    settings.AGENT_LLM_MAX_RETRIES = 2
    settings.AGENT_LLM_TIMEOUT_SECONDS = 5
    return fake_anthropic


@pytest.fixture
def budget_limit(settings):
    """Set today's proactive limit (and a small minimum) for a test."""

    def _set(limit: int, *, min_cycle: int = 100) -> None:
        settings.PROACTIVE_DAILY_TOKEN_LIMIT = limit
        settings.PROACTIVE_MIN_CYCLE_TOKENS = min_cycle

    return _set



@pytest.fixture
def master(settings):
    """Chat 1001 is the Master's."""
    settings.MASTER_CHAT_IDS = [1001]


@pytest.fixture
def world(master):
    """One of everything the admin shows (tests/admin_world.py)."""
    from tests.admin_world import world_build  # models: imported once Django is set up

    return world_build()


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if on_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL row locks; runs in CI with DATABASE_URL=postgres://…")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# --- Telegram ------------------------------------------------------------------
TEST_BOT_TOKEN = "123456:TEST-token-not-real"
TEST_MASTER_CHAT_ID = 1001


@pytest.fixture(scope="session")
def _telegram_server():
    from tests.fakes.telegram_api import FakeTelegram

    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def fake_telegram(_telegram_server):
    """The fake Bot API, emptied (scripts, updates, recorded calls) for each test."""
    _telegram_server.reset()
    yield _telegram_server
    _telegram_server.reset()


@pytest.fixture
def telegram(settings, fake_telegram):
    """Telegram configured with a test token, one Master (1001), pointed at the fake; returns it."""
    settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN
    settings.TELEGRAM_API_BASE_URL = f"{fake_telegram.url}/bot"
    settings.TELEGRAM_REQUEST_TIMEOUT_SECONDS = 2
    settings.MASTER_CHAT_IDS = [TEST_MASTER_CHAT_ID]
    return fake_telegram


# --- The fault table -------------------------------------------------------------
# A test that injects a fault says which with `@pytest.mark.fault("Claude 529")`; the
# run ends with a table: fault, tests tried, tests survived (passed). `make faults`
# runs just these tests.
_FAULTS: dict[str, list[int]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    names = [marker.args[0] for marker in item.iter_markers("fault")]
    counted = report.when == "call" or (report.when == "setup" and report.failed)
    if names and counted and not report.skipped:
        for name in dict.fromkeys(names):
            tried_survived = _FAULTS.setdefault(name, [0, 0])
            tried_survived[0] += 1
            tried_survived[1] += int(report.passed)
    return report


def pytest_terminal_summary(terminalreporter):
    if not _FAULTS:
        return
    width = max(len(name) for name in _FAULTS)
    terminalreporter.section("fault table")
    terminalreporter.write_line(f"{'fault':<{width}}  tried  survived")
    for name in sorted(_FAULTS):
        tried, survived = _FAULTS[name]
        terminalreporter.write_line(f"{name:<{width}}  {tried:>5}  {survived:>8}")
    tried = sum(t for t, _ in _FAULTS.values())
    survived = sum(s for _, s in _FAULTS.values())
    terminalreporter.write_line(f"{'all ' + str(len(_FAULTS)) + ' faults':<{width}}  {tried:>5}  {survived:>8}")
