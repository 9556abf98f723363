"""The metered Claude client: the only door to the model.

Proactive calls reserve an upper bound of their cost first and are refused before
anything is sent if the day's budget can't cover it; every call's usage lands in the
ledger.

This module is the ONE retry layer for Claude: the SDK client is built with
max_retries=0 and `_send` below retries 408/409/429/5xx/529, timeouts and connection
errors itself, up to AGENT_LLM_MAX_RETRIES times. Every call has one hard deadline,
AGENT_LLM_DEADLINE_SECONDS, over all its attempts, backoff, retry-after waits and body
reads together: a wait that doesn't fit in what is left fails the call at once (carrying
the wait on the error), and every socket operation is bounded by the time left (see
`budget.transport`), so a reply dripped slowly can't stretch the call either. The
reservation hold and the cycle lock are derived from this deadline, so no live call
outlives them.
"""

import email.utils
import functools
import json
import logging
import math
import random
from dataclasses import dataclass
from datetime import timezone

import anthropic
import httpx2
from django.conf import settings

from agentsite.core import clock
from .errors import ClaudeCallError, ClaudeNotConfigured
from .models import Scope
from .pricing import cost_bound_micros
from .services import Estimate, budget_charge_estimated, budget_release, budget_reserve, budget_settle, ledger_record
from .tally import (  # noqa: F401  (re-exported: callers take them from the client)
    CallTally, _refused, _tallied, claude_calls_current, claude_calls_refused, claude_calls_tallied,
)
from .text import text_clip
from .transport import call_deadline, deadline_http_client
from .usage import TokenUsage, estimate_input_upper_bound

logger = logging.getLogger(__name__)

OAUTH_BETA_HEADER = "oauth-2025-04-20"
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})  # and every 5xx (529 included)

@dataclass(frozen=True)
class ClaudeReply:
    text: str
    usage: TokenUsage
    model: str
    request_id: str
    stop_reason: str | None
    ledger_entry_id: int | None
    # The API reported more tokens than were reserved (recorded as reported, flagged).
    over_reservation: bool = False


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
        max_retries=0,  # `_send` is the one retry layer: the SDK's would wait out any retry-after
        http_client=deadline_http_client(),
    )


# --- errors and retries ---------------------------------------------------------------


def _error_kind(exc: Exception) -> tuple[str, int | None]:
    status = getattr(exc, "status_code", None)
    if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
        return "timeout", None
    if isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError)):
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


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, anthropic.APIStatusError):
        hint = exc.response.headers.get("x-should-retry")
        if hint in ("true", "false"):
            return hint == "true"
        return exc.status_code in RETRYABLE_STATUSES or exc.status_code >= 500
    return isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError))


def _retry_after_seconds(exc: Exception) -> float | None:
    """The wait the API asked for: `retry-after-ms`, `retry-after` in seconds or as an HTTP date."""
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    seconds = None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name)) / scale
            break
        except (TypeError, ValueError):
            continue
    if seconds is None and headers.get("retry-after"):
        try:
            when = email.utils.parsedate_to_datetime(headers["retry-after"])
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
            seconds = (when - clock.utc_now()).total_seconds()
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


def _backoff_seconds(retry: int) -> float:
    """0.5 s x 2^n, at most 8 s, less up to a quarter at random (no thundering herd)."""
    return min(BACKOFF_INITIAL_SECONDS * 2.0**retry, BACKOFF_MAX_SECONDS) * (1 - 0.25 * random.random())


@dataclass
class _Answer:
    """A 2xx reply: the call is billed from here on, whatever its body turns out to be."""

    status: int
    request_id: str
    body: bytes | None
    read_error: Exception | None


def _send(*, client: anthropic.Anthropic, request: dict, deadline: float) -> _Answer:
    """Send with retries until answered, or raise ClaudeCallError; never past `deadline`."""
    retries = max(0, settings.AGENT_LLM_MAX_RETRIES)
    for attempt in range(retries + 1):
        left = deadline - clock.monotonic()
        if left <= 0:
            raise ClaudeCallError(kind="timeout")
        try:
            timeout = min(settings.AGENT_LLM_TIMEOUT_SECONDS, left)
            with client.messages.with_streaming_response.create(**request, timeout=timeout) as raw:
                try:
                    body, read_error = raw.read(), None
                except Exception as exc:  # cut off, or past the deadline: answered all the same
                    body, read_error = None, exc
                return _Answer(status=raw.status_code, request_id=raw.request_id or "", body=body, read_error=read_error)
        except (anthropic.APIError, httpx2.HTTPError) as exc:
            kind, status = _error_kind(exc)
            retry_after = _retry_after_seconds(exc)
            failed = ClaudeCallError(kind=kind, status_code=status, retry_after_seconds=retry_after)
            if attempt == retries or not _retryable(exc):
                raise failed from exc
            wait = retry_after if retry_after is not None else _backoff_seconds(attempt)
            left = deadline - clock.monotonic()
            if wait >= left:
                # Waiting would leave no time for the retry: fail now, and say how long to wait.
                logger.warning("Claude asked for a %.1f s wait (%s); %.1f s of the deadline left", wait, kind, left)
                raise failed from exc
            logger.info("Claude call failed (%s, HTTP %s); retry %d in %.2f s", kind, status, attempt + 1, wait)
            clock.sleep(wait)
    raise AssertionError("unreachable")  # the last attempt returns or raises


# --- the reply ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    usage: TokenUsage
    text: str | None  # None: the usage is readable, the rest of the message is not
    model: str
    stop_reason: str | None


def _message(body: bytes) -> _Message | None:
    """The reply's usage and text, or None when not even its usage can be read."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    usage = TokenUsage.from_api(data.get("usage")) if isinstance(data, dict) else None
    if usage is None:
        return None
    content = data.get("content")
    text = None
    if isinstance(content, list) and all(isinstance(block, dict) for block in content):
        parts = [block.get("text") for block in content if block.get("type") == "text"]
        text = "".join(parts) if all(isinstance(p, str) for p in parts) else None
    model = data.get("model") if isinstance(data.get("model"), str) else settings.AGENT_MODEL
    stop_reason = data.get("stop_reason") if isinstance(data.get("stop_reason"), str) else None
    return _Message(usage=usage, text=text, model=model, stop_reason=stop_reason)


def _request(
    *, model: str, system: str, messages: list[dict], max_tokens: int, temperature: float | None, cache_system: bool
) -> dict:
    system_block = {"type": "text", "text": system}
    if cache_system:
        system_block["cache_control"] = {"type": "ephemeral"}
    request = {"model": model, "max_tokens": max_tokens, "system": [system_block], "messages": messages}
    if temperature is not None:
        # Newer SDKs dropped the keyword; the API still takes the field for models that accept it.
        request["extra_body"] = {"temperature": temperature}
    return request


def claude_reserve(
    *, system: str, messages: list[dict], scope: str, meta: dict | None = None, max_tokens: int | None = None
):
    """Reserve what `claude_complete` would reserve for this request (BudgetExceeded when it
    doesn't fit), so a caller can make it part of its own transaction; that transaction
    must commit before the reservation is passed to `claude_complete`."""
    input_bound = estimate_input_upper_bound(system=system, messages=messages)
    max_tokens = max_tokens or settings.AGENT_MAX_TOKENS
    return budget_reserve(
        amount=input_bound + max_tokens, scope=scope, meta={**(meta or {}), "scope": scope},
        cost=cost_bound_micros(input_bound=input_bound, max_tokens=max_tokens, model=settings.AGENT_MODEL),
    )


def claude_complete(
    *,
    system: str,
    messages: list[dict],
    scope: str,
    meta: dict | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    cache_system: bool = False,
    reservation=None,
) -> ClaudeReply:
    """Send one Messages API request, metered, within AGENT_LLM_DEADLINE_SECONDS.

    Raises ApplicationError subclasses only: BudgetExceeded before sending,
    ClaudeCallError (with `retry_after_seconds`) when the call fails. A call the API
    answered is always charged, even when it then fails: its usage when readable,
    else its whole reservation as an estimate. A proactive call made with a committed
    `reservation` (from `claude_reserve`, same request) uses it instead of reserving.
    """
    if _refused.get():
        raise RuntimeError("a model call where calls are refused (inside a transaction: see claude_calls_refused)")
    client = anthropic_client()
    model = settings.AGENT_MODEL
    max_tokens = max_tokens or settings.AGENT_MAX_TOKENS
    meta = {**(meta or {}), "scope": scope}
    input_bound = estimate_input_upper_bound(system=system, messages=messages)
    bound = input_bound + max_tokens
    if reservation is None and scope == Scope.PROACTIVE:
        reservation = budget_reserve(
            amount=bound, scope=scope, meta=meta,
            cost=cost_bound_micros(input_bound=input_bound, max_tokens=max_tokens, model=model),
        )
    request = _request(
        model=model, system=system, messages=messages, max_tokens=max_tokens, temperature=temperature,
        cache_system=cache_system,
    )
    deadline = clock.monotonic() + settings.AGENT_LLM_DEADLINE_SECONDS
    try:
        with call_deadline(deadline):
            answer = _send(client=client, request=request, deadline=deadline)
    except BaseException as exc:
        # No answer (or an error status): nothing was billed, the reservation goes back.
        if reservation is not None:
            _tallied(budget_release(reservation_id=reservation.pk, model=model, meta=meta))
        if isinstance(exc, ClaudeCallError):
            logger.warning("Claude call failed: %s (HTTP %s), scope %s", exc.kind, exc.status_code, scope)
        raise

    message = _message(answer.body) if answer.read_error is None else None
    if message is None:
        _charge_unreadable(answer=answer, reservation=reservation, bound=bound, scope=scope, model=model, meta=meta)
        raise ClaudeCallError(kind=_unreadable_kind(answer=answer, deadline=deadline), status_code=answer.status)
    return _settle(answer=answer, message=message, reservation=reservation, scope=scope, meta=meta)


def _unreadable_kind(*, answer: _Answer, deadline: float) -> str:
    """Why an answered call's reply could not be read: a body without usage, or a body cut off."""
    if answer.read_error is None:
        return "invalid_response"
    if isinstance(answer.read_error, httpx2.TimeoutException) or clock.monotonic() >= deadline:
        return "timeout"
    return "connection"


def _settle(*, answer: _Answer, message: _Message, reservation, scope: str, meta: dict) -> ClaudeReply:
    """Charge a readable reply's usage, then hand over its text (or fail if it has none)."""
    if reservation is not None:
        entry = budget_settle(
            reservation_id=reservation.pk, usage=message.usage, model=message.model,
            request_id=answer.request_id, meta=meta, reservation=reservation,
        )
    else:
        entry = ledger_record(
            scope=scope, usage=message.usage, model=message.model, request_id=answer.request_id, meta=meta
        )
    _tallied(entry)
    if message.text is None:
        logger.warning("Claude's reply (request %s) has usage but no readable content", answer.request_id)
        raise ClaudeCallError(kind="invalid_response", status_code=answer.status)
    return ClaudeReply(
        # Whatever the API sends, no caller stores or forwards more than this.
        text=text_clip(message.text),
        usage=message.usage,
        model=message.model,
        request_id=answer.request_id,
        stop_reason=message.stop_reason,
        ledger_entry_id=entry.pk if entry else None,
        over_reservation=bool(entry and entry.over_reservation),
    )


def _charge_unreadable(*, answer: _Answer, reservation, bound: int, scope: str, model: str, meta: dict) -> None:
    """An answered call whose usage can't be read costs its whole upper bound."""
    if reservation is not None:
        _tallied(budget_charge_estimated(
            reservation_id=reservation.pk, reason=Estimate.UNREADABLE_REPLY, model=model,
            request_id=answer.request_id, meta=meta,
        ))
    else:
        _tallied(ledger_record(
            scope=scope, usage=TokenUsage(input=bound), model=model, request_id=answer.request_id,
            meta={**meta, "estimate": Estimate.UNREADABLE_REPLY}, estimated=True,
        ))
    logger.warning(
        "Claude answered HTTP %s but its reply could not be read (%s); charged %d tokens as an estimate",
        answer.status, type(answer.read_error).__name__ if answer.read_error else "no usage", bound,
    )
