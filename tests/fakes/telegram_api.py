"""A loopback fake of the Telegram Bot API (POST/GET /bot<token>/<method>).

Point python-telegram-bot at it with base_url=f"{fake.url}/bot" (the `telegram` fixture
does, via settings). By default every known method succeeds with a realistic object;
script failures with `fail`, `rate_limit`, `fail_method`, `slow`, `drip`; feed getUpdates with
`push_update` (kept until a later getUpdates confirms them with a higher offset, as
Telegram does; see `pending_updates`); inspect with `sent_messages`, `calls(method)`,
`requests`.

python-telegram-bot 22 posts application/x-www-form-urlencoded bodies whose values are
strings, non-string values JSON-encoded: chat_id arrives as "1001", reply_markup as a
JSON string. `params()` decodes the form (or a JSON body, or a GET query string).

Method names are matched case-insensitively, as Telegram does.
"""

import dataclasses
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .http import FakeServer, Recorded, Reply

# The update builders live beside it; importing them from here keeps working.
from .telegram_updates import (  # noqa: F401
    BOT_ID,
    BOT_USERNAME,
    MASTER_ID,
    callback_query_update,
    message_update,
    private_chat,
    user,
)

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")

DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
CHAT_NOT_FOUND = (400, "Bad Request: chat not found")
BOT_BLOCKED = (403, "Forbidden: bot was blocked by the user")
MESSAGE_TOO_LONG = (400, "Bad Request: message is too long")


def error_reply(status: int, description: str | None = None, *, parameters: dict | None = None) -> Reply:
    body = {"ok": False, "error_code": status, "description": description or DESCRIPTIONS.get(status, "Error")}
    if parameters:
        body["parameters"] = parameters
    return Reply(status=status, body=body)


def ok_reply(result) -> Reply:
    return Reply(body={"ok": True, "result": result})


def params(recorded: Recorded) -> dict:
    """The call's parameters: query string, then a form or JSON body (multipart: not decoded)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(recorded.path).query).items()}
    content_type = recorded.headers.get("content-type", "")
    if not recorded.body or content_type.startswith("multipart/"):
        return query
    body = recorded.params if content_type else recorded.form
    return {**query, **(body or {})}


def method_of(recorded: Recorded) -> str:
    """'sendMessage' for /bot<token>/sendMessage; '' for any other path."""
    match = _PATH.match(urlsplit(recorded.path).path)
    return match["method"] if match else ""


def token_of(recorded: Recorded) -> str:
    match = _PATH.match(urlsplit(recorded.path).path)
    return match["token"] if match else ""


def _json_field(value):
    """reply_markup and friends arrive JSON-encoded inside the form."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _chat_id(value) -> int | str:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value  # "@channelusername"


# --- the server ------------------------------------------------------------------------------


@dataclass
class _Rule:
    """A scripted answer for matching calls: skip `after` matches, then answer `times` times
    (None: until cleared)."""

    reply: Reply
    method: str | None = None  # lower-case; None: any method
    chat_id: int | str | None = None
    times: int | None = 1
    after: int = 0

    def matches(self, method: str, call: dict) -> bool:
        if self.method is not None and method.lower() != self.method:
            return False
        if self.chat_id is not None and _chat_id(call.get("chat_id")) != self.chat_id:
            return False
        return self.times is None or self.times > 0


class FakeTelegram(FakeServer):
    """The fake Bot API. Accepts any token unless `expected_token` is set (then others get 401)."""

    def __init__(self, *, bot_id: int = BOT_ID, username: str = BOT_USERNAME) -> None:
        super().__init__(default=self._answer)
        self.bot_id = bot_id
        self.username = username
        self.expected_token: str | None = None
        self._state_lock = threading.Lock()
        self._init_state()

    def _init_state(self) -> None:
        self._rules: list[_Rule] = []
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._sent: list[dict] = []
        self.webhook: dict = {}

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self._init_state()
            self.expected_token = None

    # --- scripting ------------------------------------------------------------------------
    def fail(self, status: int = 502, times: int | None = 1, *, method: str | None = None,
             description: str | None = None, chat_id: int | None = None, after: int = 0,
             parameters: dict | None = None) -> None:
        """The next `times` matching calls (None: all, until `clear_failures`) get an error
        like Telegram's: {"ok": false, "error_code": status, "description": ...}.

        Match on `method` (e.g. "sendMessage") and/or `chat_id`; `after=n` lets the first n
        matching calls succeed first (e.g. part 1 of a long message goes, part 2 fails).
        """
        self._add_rule(_Rule(error_reply(status, description, parameters=parameters),
                             method=method, chat_id=chat_id, times=times, after=after))

    def rate_limit(self, retry_after: int = 1, times: int | None = 1, *, method: str | None = None,
                   chat_id: int | None = None, after: int = 0) -> None:
        """429 Too Many Requests with parameters.retry_after, as Telegram's flood control."""
        self.fail(429, times, method=method, chat_id=chat_id, after=after,
                  description=f"Too Many Requests: retry after {retry_after}",
                  parameters={"retry_after": retry_after})

    def fail_method(self, method: str, error: tuple[int, str] = CHAT_NOT_FOUND, *,
                    times: int | None = None, chat_id: int | None = None) -> None:
        """Make `method` fail with (status, description), by default until cleared; e.g.
        fail_method("sendMessage", BOT_BLOCKED, chat_id=1001)."""
        status, description = error
        self.fail(status, times, method=method, description=description, chat_id=chat_id)

    def slow(self, seconds: float, times: int | None = 1, *, method: str | None = None) -> None:
        """Answer the next matching calls normally, but only after `seconds` (timeout tests).
        The call is carried out at once (a sendMessage is sent); only the answer is late."""
        self._add_rule(_Rule(Reply(delay=seconds), method=method, times=times))

    def drip(self, seconds: float, chunks: int = 8, times: int | None = 1, *, method: str | None = None) -> None:
        """Answer the next matching calls normally, the headers at once and the body in
        `chunks` pieces, `seconds` before each: no single read waits long, the whole answer does."""
        self._add_rule(_Rule(Reply(drip=seconds, drip_chunks=chunks), method=method, times=times))

    def clear_failures(self) -> None:
        with self._state_lock:
            self._rules.clear()

    def push_update(self, update: dict) -> dict:
        """Queue an Update for getUpdates (update_id assigned if missing); returns it."""
        with self._state_lock:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
        return update

    def _add_rule(self, rule: _Rule) -> None:
        if rule.method is not None:
            rule.method = rule.method.lower()
        with self._state_lock:
            self._rules.append(rule)

    # --- inspection ------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[dict]:
        """Parameters of every call to `method` (all calls if None), answered or failed, in order."""
        with self._lock:
            recorded = list(self.requests)
        wanted = method.lower() if method else None
        return [params(r) for r in recorded if wanted is None or method_of(r).lower() == wanted]

    @property
    def sent_messages(self) -> list[dict]:
        """Messages the fake accepted (sendMessage answered ok), in order: the call's
        parameters with chat_id as int and reply_markup decoded, plus the message_id given."""
        with self._state_lock:
            return [dict(m) for m in self._sent]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in self.sent_messages if chat_id is None or m["chat_id"] == chat_id]

    @property
    def bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Agent", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    # --- answering -------------------------------------------------------------------------
    def _next(self, recorded: Recorded) -> Reply:
        """Scripted rules first, then the generic queue (`enqueue`), then the default answer."""
        method, call = method_of(recorded), params(recorded)
        scripted, late = None, None
        with self._state_lock:
            for rule in self._rules:
                if not rule.matches(method, call):
                    continue
                if rule.after > 0:
                    rule.after -= 1  # this call passes, answered normally
                    break
                if rule.times is not None:
                    rule.times -= 1
                if rule.reply.body is None:  # `slow`, `drip`: the normal answer, late
                    late = rule.reply
                else:
                    scripted = rule.reply
                break
        if scripted is not None:
            with self._lock:
                self.requests.append(recorded)
            return scripted
        reply = super()._next(recorded)
        if late is not None:
            reply = dataclasses.replace(reply, delay=late.delay, drip=late.drip, drip_chunks=late.drip_chunks)
        return reply

    def _answer(self, recorded: Recorded) -> Reply:
        method, call = method_of(recorded), params(recorded)
        if not method:
            return error_reply(404)
        if self.expected_token is not None and token_of(recorded) != self.expected_token:
            return error_reply(401)
        handler = self._handlers().get(method.lower())
        if handler is None:
            return error_reply(404)
        return handler(call)

    def _handlers(self) -> dict[str, Callable[[dict], Reply]]:
        true = lambda call: ok_reply(True)  # noqa: E731
        return {
            "getme": lambda call: ok_reply(self.bot_user),
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message,
            "editmessagereplymarkup": self._edit_message,
            "answercallbackquery": true,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": lambda call: ok_reply(self._webhook_info()),
            "getupdates": self._get_updates,
            "sendchataction": true,
            "deletemessage": true,
            "setmycommands": true,
            "deletemycommands": true,
            "getmycommands": lambda call: ok_reply([]),
            "getchat": lambda call: ok_reply({**private_chat(_chat_id(call.get("chat_id"))),
                                              "accent_color_id": 0, "max_reaction_count": 11}),
        }

    def _message(self, call: dict, message_id: int) -> dict:
        chat_id = _chat_id(call.get("chat_id"))
        chat = private_chat(chat_id) if isinstance(chat_id, int) else {
            "id": -1000000000001, "type": "channel", "title": str(chat_id)}
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat,
                   "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}}
        if "text" in call:
            message["text"] = call["text"]
        markup = _json_field(call.get("reply_markup"))
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        return message

    def _send_message(self, call: dict) -> Reply:
        if not call.get("chat_id"):
            return error_reply(400, "Bad Request: chat_id is empty")
        if not (call.get("text") or "").strip():
            return error_reply(400, "Bad Request: message text is empty")
        if len(call["text"]) > 4096:
            return error_reply(*MESSAGE_TOO_LONG)
        with self._state_lock:
            message_id = next(self._message_ids)
            self._sent.append({**call, "chat_id": _chat_id(call["chat_id"]),
                               "reply_markup": _json_field(call.get("reply_markup")),
                               "message_id": message_id})
        return ok_reply(self._message(call, message_id))

    def _edit_message(self, call: dict) -> Reply:
        if call.get("inline_message_id"):
            return ok_reply(True)
        try:
            message_id = int(call.get("message_id"))
        except (TypeError, ValueError):
            return error_reply(400, "Bad Request: message identifier is not specified")
        return ok_reply(self._message(call, message_id))

    def _set_webhook(self, call: dict) -> Reply:
        with self._state_lock:
            self.webhook = {"url": call.get("url", ""), "secret_token": call.get("secret_token", ""),
                            "allowed_updates": _json_field(call.get("allowed_updates")) or []}
        return ok_reply(True)

    def _delete_webhook(self, call: dict) -> Reply:
        with self._state_lock:
            self.webhook = {}
            if str(call.get("drop_pending_updates", "")).lower() == "true":
                self._updates.clear()
        return ok_reply(True)

    def _webhook_info(self) -> dict:
        with self._state_lock:
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _get_updates(self, call: dict) -> Reply:
        """As Telegram: an `offset` confirms (drops for good) every queued update below it;
        the answer is the first `limit` updates still queued, which stay queued until a
        later call confirms them. Never waits."""
        offset = int(call.get("offset") or 0)
        limit = min(max(int(call.get("limit") or 100), 1), 100)
        with self._state_lock:
            if self.webhook.get("url"):
                return error_reply(409, "Conflict: can't use getUpdates method while webhook is active; "
                                        "use deleteWebhook to delete the webhook first")
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            batch = [dict(u) for u in self._updates[:limit]]
        return ok_reply(batch)

    @property
    def pending_updates(self) -> list[dict]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        with self._state_lock:
            return [dict(u) for u in self._updates]
