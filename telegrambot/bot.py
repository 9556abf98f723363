"""The Telegram bot, for sync code (Django-Q2 tasks, management commands).

python-telegram-bot is async; its `Bot` holds an httpx client whose connections belong
to the event loop they were opened on. Reusing one across `asyncio.run` calls fails with
"Event loop is closed". The workers' long-lived Bot lives on a loop kept alive for the
process (`telegrambot.runtime`); for one-off use (management commands, the poller's
getUpdates) `BotSession` opens an event loop of its own (`asyncio.Runner`), creates the
Bot on it, runs any number of calls on it and shuts both down together. Between calls
no loop is running, so the code using a session may touch the ORM freely (which it must
not do inside a running loop).

The configuration is cached (`bot_settings`), built on first use, never at import, and
cleared when a TELEGRAM_* setting changes (see `telegrambot.apps`).

    with BotSession() as session:
        message = session.call(lambda bot: bot.send_message(chat_id=1, text="hi"))

    me = run_with_bot(lambda bot: bot.get_me())

httpx's timeouts apply to each phase of a request (connect, write, each read), so an
answer dripped slowly enough never trips them; `call(..., deadline=s)` bounds the whole
request too (raising TimedOut), which is what a caller holding a lease needs.
"""

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from telegram import Bot
from telegram.error import TimedOut
from telegram.request import HTTPXRequest

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 10.0
CONNECTION_POOL_SIZE = 8


class TelegramNotConfigured(RuntimeError):
    """No TELEGRAM_BOT_TOKEN is set."""

    def __init__(self) -> None:
        super().__init__("Telegram is not configured: TELEGRAM_BOT_TOKEN is empty")


@dataclass(frozen=True)
class BotSettings:
    token: str
    base_url: str
    timeout: float

    def __repr__(self) -> str:  # never print the token
        return f"BotSettings(base_url={self.base_url!r}, timeout={self.timeout!r}, token=[redacted])"

    @property
    def bot_id(self) -> str:
        """The bot's public id (the token's part before the colon), never its secret half;
        a digest for a token of another shape."""
        head, colon, _ = self.token.partition(":")
        if colon and head.isdigit():
            return head
        return "sha256:" + hashlib.sha256(self.token.encode()).hexdigest()[:16]


def telegram_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


@functools.cache
def bot_settings() -> BotSettings:
    """The bot's configuration, read from settings on first use."""
    if not settings.TELEGRAM_BOT_TOKEN:
        raise TelegramNotConfigured()
    return BotSettings(
        token=settings.TELEGRAM_BOT_TOKEN,
        # The token is appended by python-telegram-bot (or put at "{token}" if present).
        base_url=settings.TELEGRAM_API_BASE_URL,
        timeout=float(getattr(settings, "TELEGRAM_REQUEST_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
    )


def bot_build(config: BotSettings) -> tuple[Bot, tuple[HTTPXRequest, HTTPXRequest]]:
    """The one way a Bot is made (for a `BotSession` and for the handlers' Application): the
    configured token, API URL and per-phase timeout; returns it with its two HTTP clients
    (requests, getUpdates). Call it on the event loop that will use it."""
    request = _request(config, pool_size=CONNECTION_POOL_SIZE)
    updates_request = _request(config, pool_size=1)
    bot = Bot(config.token, base_url=config.base_url, request=request, get_updates_request=updates_request)
    return bot, (request, updates_request)


def _request(config: BotSettings, *, pool_size: int) -> HTTPXRequest:
    return HTTPXRequest(
        connection_pool_size=pool_size,
        read_timeout=config.timeout,
        write_timeout=config.timeout,
        connect_timeout=config.timeout,
        pool_timeout=config.timeout,
    )


async def within_deadline(call: Awaitable[T], deadline: float | None) -> T:
    """Await `call`; with `deadline` (seconds) cancel it after that long and raise TimedOut."""
    if deadline is None:
        return await call
    timeout = asyncio.timeout(deadline)
    try:
        async with timeout:
            return await call
    except TimeoutError as exc:
        if not timeout.expired():
            raise
        raise TimedOut(f"Timed out: no complete answer within {deadline:g} s") from exc


class BotSession:
    """One Bot on one private event loop, usable from sync code; a context manager.

    `initialize=True` also calls getMe (as `async with bot:` does) so `bot.username`
    and friends work; delivery doesn't need it and saves the round trip.
    """

    def __init__(self, *, initialize: bool = False) -> None:
        self._initialize = initialize
        self._runner: asyncio.Runner | None = None
        self._requests: tuple[HTTPXRequest, ...] = ()
        self.bot: Bot | None = None

    def __enter__(self) -> "BotSession":
        config = bot_settings()  # fails fast, before a loop exists
        self._runner = asyncio.Runner()
        try:
            self.bot = self._runner.run(self._open(config))
        except BaseException:
            self.__exit__(None, None, None)  # closes whatever was opened, then the loop
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self._runner is not None:
                self._runner.run(self._close())
        finally:
            if self._runner is not None:
                self._runner.close()
            self._runner, self.bot, self._requests = None, None, ()

    def call(self, fn: Callable[[Bot], Awaitable[T]], *, deadline: float | None = None) -> T:
        """Run `fn(bot)` on the session's loop and return its result.

        With `deadline` (seconds) the whole call is cancelled after that long and TimedOut
        raised, however the answer trickles in; without, only httpx's per-phase timeouts apply
        (getUpdates' long poll needs that)."""
        if self._runner is None or self.bot is None:
            raise RuntimeError("BotSession is not open; use it as a context manager")
        bot = self.bot

        async def _call() -> T:
            return await within_deadline(fn(bot), deadline)

        return self._runner.run(_call())

    async def _open(self, config: BotSettings) -> Bot:
        # Built inside the loop, so the HTTP clients belong to it.
        bot, self._requests = bot_build(config)
        if self._initialize:
            await bot.initialize()  # calls getMe
        else:
            await asyncio.gather(*(request.initialize() for request in self._requests))
        return bot

    async def _close(self) -> None:
        if self.bot is not None:
            await self.bot.shutdown()  # a no-op unless bot.initialize() ran
        await asyncio.gather(*(request.shutdown() for request in self._requests))


def run_with_bot(fn: Callable[[Bot], Awaitable[T]], *, initialize: bool = True) -> T:
    """Run `fn(bot)` on a fresh, initialized Bot in a fresh event loop; both are closed after.

    For one-off calls from sync code (commands); for many calls use one `BotSession`.
    """
    with BotSession(initialize=initialize) as session:
        return session.call(fn)
