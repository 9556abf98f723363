"""No secret ever shows up in a log line, an error, an admin page or an HTTP response."""

import io
import logging

import pytest
from django.conf import settings as django_settings

from agentsite.core.redaction import RedactSecretsFilter
from budget.client import claude_complete
from budget.errors import ClaudeCallError
from budget.models import Scope
from tests.conftest import TEST_API_KEY
from tests.fakes.anthropic_api import UNAUTHORIZED

BOT_TOKEN = "424242:TEST-bot-token-never-real"
WEBHOOK_SECRET = "test-webhook-secret-never-real"
OAUTH = "test-oauth-never-real-xyz"


@pytest.fixture
def secrets(settings, claude):
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.CLAUDE_CODE_OAUTH_TOKEN = OAUTH
    return [TEST_API_KEY, BOT_TOKEN, WEBHOOK_SECRET, OAUTH]


def console_logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.secrets")
    logger.handlers = [handler]
    logger.propagate = False
    return logger, stream


def test_the_console_handler_carries_the_redaction_filter():
    console = django_settings.LOGGING["handlers"]["console"]
    assert "redact_secrets" in console["filters"]


def test_log_lines_and_tracebacks_are_redacted(secrets):
    logger, stream = console_logger()
    logger.error("calling https://api.telegram.org/bot%s/getMe with key %s", BOT_TOKEN, TEST_API_KEY)
    logger.error("the token's secret half alone: %s", BOT_TOKEN.partition(":")[2])
    try:
        raise RuntimeError(f"failed with secret {WEBHOOK_SECRET} and {OAUTH}")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert "[redacted]" in output and "RuntimeError" in output
    for secret in [*secrets, BOT_TOKEN.partition(":")[2]]:
        assert secret not in output


@pytest.mark.django_db
def test_a_failed_call_leaks_no_secret_in_its_error_or_logs(secrets, claude, caplog):
    caplog.set_level(logging.DEBUG)
    claude.fail(UNAUTHORIZED)
    with pytest.raises(ClaudeCallError) as failed:
        claude_complete(system="s", messages=[{"role": "user", "content": "x"}], scope=Scope.REACTIVE)
    for secret in secrets:
        assert secret not in str(failed.value)
        assert secret not in repr(failed.value)
        assert secret not in caplog.text


@pytest.mark.django_db
def test_http_responses_and_admin_pages_show_no_secret(secrets, claude, client, admin_client):
    from decisions.services import cycle_run

    claude.fail(UNAUTHORIZED)
    failed = cycle_run().cycle  # a failure the Master will inspect everywhere
    pages = {
        url: admin_client.get(url)
        for url in [
            "/admin/", "/admin/agent/", "/admin/budget/ledgerentry/", "/admin/decisions/cycle/",
            f"/admin/decisions/cycle/{failed.pk}/change/", "/admin/decisions/notification/",
            "/api/budget/", "/api/cycles/", f"/api/cycles/{failed.pk}/", "/api/agent/", "/api/docs/",
        ]
    }
    pages["/health"], pages["/stats"] = client.get("/health"), client.get("/stats")
    pages["/telegram/webhook/ (wrong secret)"] = client.post(
        "/telegram/webhook/", data="{}", content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="wrong",
    )
    for url, page in pages.items():
        assert page.status_code in (200, 403), url
        body = page.content.decode()
        for secret in secrets:
            assert secret not in body, url
