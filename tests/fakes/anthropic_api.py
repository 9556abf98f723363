"""A loopback fake of the Anthropic Messages API (POST /v1/messages and
POST /v1/messages/count_tokens).

Token counts are deterministic and plausible, not Claude's tokenizer: a text costs
ceil(characters / 4) tokens (about what English costs), each message 4 more for its
framing, the system prompt and the request 8 more. `count_tokens` answers that count.

Prompt caching, as the real API does it: a request whose blocks carry `cache_control`
has a cached prefix (everything up to and including the last marked block, in the order
tools, system, messages). When that prefix reaches the model's minimum cacheable length
(`budget.usage.cache_min_tokens`), the first request with it reports the prefix as
`cache_creation_input_tokens` and every later one as `cache_read_input_tokens`; the rest
is `input_tokens`. A shorter prefix is sent uncached, silently. The fake never expires an
entry (the real cache lives 5 minutes from its last use); `reset()` forgets them all.
Scripted replies keep the usage they were given; `metered_reply` computes it so.
"""

import hashlib
import itertools
import json
import math
import threading

from budget.usage import cache_min_tokens

from .http import FakeServer, Recorded, Reply, Responder

_ids = itertools.count(1)


def message_reply(
    text: str = "ok",
    *,
    input_tokens: int = 100,
    output_tokens: int = 20,
    cache_creation: int = 0,
    cache_read: int = 0,
    model: str = "claude-sonnet-5-5",
    delay: float = 0.0,
) -> Reply:
    n = next(_ids)
    return Reply(
        body={
            "id": f"msg_fake_{n}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": cache_creation,
                "cache_read_input_tokens": cache_read,
            },
        },
        headers={"request-id": f"req_fake_{n}"},
        delay=delay,
    )


def error_reply(
    status: int,
    error_type: str,
    message: str = "fake error",
    *,
    retry_after: float | str | None = None,
    headers: dict | None = None,
) -> Reply:
    """An API error. By default it asks for a 1 ms wait (retries stay fast in tests);
    `retry_after` sends a `retry-after` header instead (seconds or an HTTP date), and
    `headers` replaces them all (`{}`: no wait named, so the client backs off)."""
    if headers is None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {"retry-after-ms": "1"}
    return Reply(
        status=status,
        body={"type": "error", "error": {"type": error_type, "message": message}},
        headers=dict(headers),
    )


def html_reply(status: int = 200) -> Reply:
    """What a proxy or load balancer in the way answers: a page, not JSON."""
    return Reply(status=status, body=b"<html><body><h1>It works!</h1></body></html>", content_type="text/html")


def reply_without_usage(text: str = "ok") -> Reply:
    reply = message_reply(text)
    del reply.body["usage"]
    return reply


OVERLOADED = (529, "overloaded_error")
SERVER_ERROR = (500, "api_error")
RATE_LIMITED = (429, "rate_limit_error")
UNAUTHORIZED = (401, "authentication_error")


CHARS_PER_TOKEN = 4
MESSAGE_FRAMING_TOKENS = 4
REQUEST_FRAMING_TOKENS = 8
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _blocks(content) -> list[dict]:
    """A system prompt or a message's content as text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def _parts(request: dict) -> list[tuple[int, bool, str]]:
    """(tokens, marked with cache_control, identity) of each piece of the prompt, in its
    order: the request's framing, tools, the system prompt, then each message."""
    parts = [(REQUEST_FRAMING_TOKENS, False, "request")]
    for tool in request.get("tools") or []:
        text = json.dumps(tool, sort_keys=True)
        parts.append((text_tokens(text), "cache_control" in tool, "tool:" + text))
    if request.get("system"):
        parts.append((REQUEST_FRAMING_TOKENS, False, "system"))
    for block in _blocks(request.get("system")):
        text = str(block.get("text", ""))
        parts.append((text_tokens(text), "cache_control" in block, "system:" + text))
    for message in request.get("messages") or []:
        role = str(message.get("role"))
        parts.append((MESSAGE_FRAMING_TOKENS, False, "role:" + role))
        for block in _blocks(message.get("content")):
            text = str(block.get("text", ""))
            parts.append((text_tokens(text), "cache_control" in block, f"{role}:{text}"))
    return parts


def request_tokens(request: dict) -> int:
    """The input tokens of a request, as this fake counts them."""
    return sum(tokens for tokens, _, _ in _parts(request))


class FakeAnthropic(FakeServer):
    def __init__(self) -> None:
        super().__init__(default=lambda recorded: message_reply())
        self._cached: set[str] = set()
        self._cache_lock = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._cache_lock:
            self._cached.clear()

    def _next(self, recorded: Recorded) -> Reply:
        # Counting never takes a scripted reply: it is a side door, like the real one.
        if recorded.path.startswith(COUNT_TOKENS_PATH):
            with self._lock:
                self.requests.append(recorded)
            return Reply(body={"input_tokens": request_tokens(recorded.json)})
        return super()._next(recorded)

    def usage_for(self, request: dict) -> dict:
        """The usage the real API would report for `request`, cache included: a cached
        prefix long enough for the model is written on its first sight and read after."""
        parts = _parts(request)
        total = sum(tokens for tokens, _, _ in parts)
        marked = [i for i, (_, mark, _) in enumerate(parts) if mark]
        prefix_parts = parts[: marked[-1] + 1] if marked else []
        prefix = sum(tokens for tokens, _, _ in prefix_parts)
        if not marked or prefix < cache_min_tokens(model=str(request.get("model", ""))):
            return {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        identity = json.dumps([request.get("model"), [who for _, _, who in prefix_parts]])
        key = hashlib.sha256(identity.encode()).hexdigest()
        with self._cache_lock:
            hit = key in self._cached
            self._cached.add(key)
        return {"input_tokens": total - prefix, "cache_creation_input_tokens": 0 if hit else prefix,
                "cache_read_input_tokens": prefix if hit else 0}

    def metered_reply(self, text: str = "ok", *, output_tokens: int = 20) -> Responder:
        """A responder answering `text` with the usage of the request it answers."""

        def respond(recorded: Recorded) -> Reply:
            request = recorded.json
            usage = self.usage_for(request)
            return message_reply(
                text, input_tokens=usage["input_tokens"], output_tokens=output_tokens,
                cache_creation=usage["cache_creation_input_tokens"], cache_read=usage["cache_read_input_tokens"],
                model=str(request.get("model") or "claude-sonnet-5-5"),
            )

        return respond

    def reply_json(self, decision: dict, **usage) -> None:
        """Queue one reply whose text is the JSON of `decision`."""
        self.enqueue(message_reply(json.dumps(decision), **usage))

    def reply_text(self, text: str, **usage) -> None:
        self.enqueue(message_reply(text, **usage))

    def fail(self, status_and_type: tuple[int, str], times: int = 1, *, retry_after: float | str | None = None) -> None:
        self.enqueue(*[error_reply(*status_and_type, retry_after=retry_after) for _ in range(times)])

    @property
    def message_requests(self) -> list[Recorded]:
        return [r for r in self.requests
                if r.path.startswith("/v1/messages") and not r.path.startswith(COUNT_TOKENS_PATH)]
