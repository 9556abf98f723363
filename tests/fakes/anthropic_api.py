"""A loopback fake of the Anthropic Messages API (POST /v1/messages)."""

import itertools
import json

from .http import FakeServer, Recorded, Reply

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


class FakeAnthropic(FakeServer):
    def __init__(self) -> None:
        super().__init__(default=lambda recorded: message_reply())

    def reply_json(self, decision: dict, **usage) -> None:
        """Queue one reply whose text is the JSON of `decision`."""
        self.enqueue(message_reply(json.dumps(decision), **usage))

    def reply_text(self, text: str, **usage) -> None:
        self.enqueue(message_reply(text, **usage))

    def fail(self, status_and_type: tuple[int, str], times: int = 1, *, retry_after: float | str | None = None) -> None:
        self.enqueue(*[error_reply(*status_and_type, retry_after=retry_after) for _ in range(times)])

    @property
    def message_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1/messages")]
