"""The metered Claude client: the only door to the model.

Proactive calls reserve an upper bound of their cost first and are refused before
anything is sent if the day's budget can't cover it; every call's usage lands in the
ledger. Retries and timeouts are the SDK's own (the one retry layer), configured once
in the cached factory below.
"""

import functools
import logging
from dataclasses import dataclass

import anthropic
from django.conf import settings

from .errors import ClaudeCallError, ClaudeNotConfigured
from .models import Scope
from .services import budget_release, budget_reserve, budget_settle, ledger_record
from .usage import TokenUsage, estimate_input_upper_bound

logger = logging.getLogger(__name__)

OAUTH_BETA_HEADER = "oauth-2025-04-20"


@dataclass(frozen=True)
class ClaudeReply:
    text: str
    usage: TokenUsage
    model: str
    request_id: str
    stop_reason: str | None
    ledger_entry_id: int | None


def claude_configured() -> bool:
    return bool(settings.ANTHROPIC_API_KEY or settings.CLAUDE_CODE_OAUTH_TOKEN)


@functools.cache
def anthropic_client() -> anthropic.Anthropic:
    """The one SDK client, built on first use (never at import) from settings."""
    if settings.ANTHROPIC_API_KEY:
        credentials = {"api_key": settings.ANTHROPIC_API_KEY}
    elif settings.CLAUDE_CODE_OAUTH_TOKEN:
        credentials = {
            "auth_token": settings.CLAUDE_CODE_OAUTH_TOKEN,
            "default_headers": {"anthropic-beta": OAUTH_BETA_HEADER},
        }
    else:
        raise ClaudeNotConfigured()
    return anthropic.Anthropic(
        **credentials,
        base_url=settings.ANTHROPIC_BASE_URL or None,  # None: the SDK's own default/env
        timeout=settings.AGENT_LLM_TIMEOUT_SECONDS,
        max_retries=settings.AGENT_LLM_MAX_RETRIES,
    )


def _error_kind(exc: Exception) -> tuple[str, int | None]:
    status = getattr(exc, "status_code", None)
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout", None
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection", None
    if isinstance(exc, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
        return "authentication", status
    if isinstance(exc, anthropic.RateLimitError):
        return "rate_limited", status
    if status == 529:
        return "overloaded", status
    if status is not None and status >= 500:
        return "server_error", status
    return "api_error", status


def _system_blocks(system: str, cacheable: bool) -> list[dict]:
    block = {"type": "text", "text": system}
    if cacheable:
        block["cache_control"] = {"type": "ephemeral"}
    return [block]


def claude_complete(
    *,
    system: str,
    messages: list[dict],
    scope: str,
    meta: dict | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    cache_system: bool = False,
) -> ClaudeReply:
    """Send one Messages API request, metered. Raises ApplicationError subclasses only."""
    client = anthropic_client()
    model = settings.AGENT_MODEL
    max_tokens = max_tokens or settings.AGENT_MAX_TOKENS
    meta = {**(meta or {}), "scope": scope}
    reservation = None
    if scope == Scope.PROACTIVE:
        bound = estimate_input_upper_bound(system=system, messages=messages) + max_tokens
        reservation = budget_reserve(amount=bound, scope=scope, meta=meta)

    request = {
        "model": model,
        "max_tokens": max_tokens,
        "system": _system_blocks(system, cache_system),
        "messages": messages,
    }
    if temperature is not None:
        # Newer SDKs dropped the keyword; the API still takes the field for models that accept it.
        request["extra_body"] = {"temperature": temperature}
    try:
        response = client.messages.create(**request)
    except Exception as exc:
        if reservation is not None:
            budget_release(reservation_id=reservation.pk, model=model, meta=meta)
        if isinstance(exc, anthropic.APIError):
            kind, status = _error_kind(exc)
            logger.warning("Claude call failed: %s (HTTP %s), scope %s", kind, status, scope)
            raise ClaudeCallError(kind=kind, status_code=status) from exc
        raise

    usage = TokenUsage.from_sdk(response.usage)
    request_id = getattr(response, "_request_id", None) or ""
    if reservation is not None:
        entry = budget_settle(
            reservation_id=reservation.pk, usage=usage, model=response.model, request_id=request_id, meta=meta
        )
    else:
        entry = ledger_record(scope=scope, usage=usage, model=response.model, request_id=request_id, meta=meta)
    text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
    return ClaudeReply(
        text=text,
        usage=usage,
        model=response.model,
        request_id=request_id,
        stop_reason=response.stop_reason,
        ledger_entry_id=entry.pk if entry else None,
    )
