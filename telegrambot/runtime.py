"""The process's one Telegram runtime: a Bot and the handlers' Application, kept alive.

python-telegram-bot is async and its Bot's httpx clients belong to the event loop they
were opened on, so a runtime owns a loop of its own, running in a daemon thread for the
life of the process. Sync code (Django-Q2 tasks, the poller) runs coroutines on it with
`TelegramRuntime.run` / `call`: the calling thread waits and meanwhile runs, itself, the
sync work the coroutine hands back (`on_caller_thread`, what the handlers use for the
ORM), so that work happens on the caller's thread, in its database connection and
transaction, as `async_to_sync` would do; but the loop, the Bot's connections and the
initialized Application outlive the call. Several threads may run updates at once (each
gets its own work back); the first to need the Application initializes it (one getMe
per process; a failure is not kept: the next update tries again).

`telegram_runtime()` is the one cached factory: built lazily on first use, never at
import; keyed on the process id (a Django-Q2 worker forked from a parent that had one
builds its own: a loop is never shared across a fork) and on the bot's settings
(`telegrambot.bot.BotSettings`): a changed token, API URL or timeout builds a new one and
closes the old. `telegram_runtime_reset()` closes it (settings changes call it; tests too).
"""

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.sync import sync_to_async
from telegram import Bot
from telegram.ext import Application

from .bot import BotSettings, bot_build, bot_settings, within_deadline

T = TypeVar("T")

CLOSE_TIMEOUT_SECONDS = 10.0

# The executor of the thread that called `TelegramRuntime.run` (seen by the coroutine it runs).
_caller: ContextVar[CurrentThreadExecutor | None] = ContextVar("telegram_runtime_caller", default=None)


def on_caller_thread(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`sync_to_async` for the handlers: `fn` runs on the thread that called
    `TelegramRuntime.run` (its connection, its transaction); elsewhere thread-sensitive."""
    executor = _caller.get()
    if executor is None:
        return sync_to_async(fn)
    return sync_to_async(fn, thread_sensitive=False, executor=executor)


class TelegramRuntime:
    """One event loop in a daemon thread, one Bot on it, and the handlers' Application."""

    def __init__(self, config: BotSettings) -> None:
        self.config = config
        self.pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-runtime", daemon=True)
        self._thread.start()
        self._bot: Bot | None = None
        self._requests: tuple = ()
        self._application: Application | None = None
        self._lock: asyncio.Lock | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the runtime's loop and return its result; this thread serves
        the coroutine's `on_caller_thread` work meanwhile."""
        executor = CurrentThreadExecutor(None)
        token = _caller.set(executor)
        try:
            # The task is created with a copy of this context: it sees `executor`.
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        finally:
            _caller.reset(token)
        try:
            executor.run_until_future(future)
        except BaseException:  # e.g. the task's timeout: the coroutine must not go on alone
            future.cancel()
            raise
        return future.result()

    def call(self, fn: Callable[[Bot], Awaitable[T]], *, deadline: float | None = None) -> T:
        """Run `fn(bot)` with the runtime's Bot (no getMe needed), as `BotSession.call` does."""

        async def _call() -> T:
            return await within_deadline(fn(await self.bot()), deadline)

        return self.run(_call())

    async def bot(self) -> Bot:
        """The Bot, its HTTP clients opened (on this loop) on first use."""
        async with self._guard():
            if self._bot is None:
                bot, requests = bot_build(self.config)
                await asyncio.gather(*(request.initialize() for request in requests))
                self._bot, self._requests = bot, requests
        return self._bot

    async def application(self, build: Callable[[Bot], Application]) -> Application:
        """The handlers' Application on the runtime's Bot (made by `build` the first time),
        initialized (getMe) once."""
        bot = await self.bot()
        async with self._guard():
            if self._application is None:
                self._application = build(bot)
            await self._application.initialize()  # a no-op once done; raises on failure (tried again next time)
        return self._application

    def close(self) -> None:
        """Shut the Application and the Bot down and stop the loop (in this process only)."""
        if self.pid != os.getpid():  # a fork's copy: the thread isn't here; leave the parent's objects alone
            return
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(CLOSE_TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 (closing: nothing left to do about it)
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_SECONDS)
        if not self._thread.is_alive():
            self._loop.close()

    async def _shutdown(self) -> None:
        # Whatever still runs here is cancelled, so no caller waits forever on a stopped loop.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self._application is not None:
            await self._application.shutdown()  # each of these is a no-op when not initialized
        if self._bot is not None:
            await self._bot.shutdown()
        await asyncio.gather(*(request.shutdown() for request in self._requests))

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:  # made on the loop, by the loop's thread
            self._lock = asyncio.Lock()
        return self._lock


_runtime: TelegramRuntime | None = None
_runtime_lock = threading.Lock()


def telegram_runtime() -> TelegramRuntime:
    """This process's runtime for the current bot settings (raises TelegramNotConfigured
    when there is no bot token); built on first use."""
    global _runtime
    config = bot_settings()
    with _runtime_lock:
        current = _runtime
        if current is not None and current.pid == os.getpid() and current.config == config:
            return current
        _runtime = TelegramRuntime(config)
    if current is not None:
        current.close()  # another process's copy is left alone by close()
    return _runtime


def telegram_runtime_reset() -> None:
    """Close this process's runtime, if any (the next use builds a new one)."""
    global _runtime
    with _runtime_lock:
        current, _runtime = _runtime, None
    if current is not None:
        current.close()
