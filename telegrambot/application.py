"""The python-telegram-bot Application that handles updates: the one handling path.

PTB is async; the Django-Q2 tasks and the poller are sync. The Application lives in the
process's `telegrambot.runtime` (its loop kept alive in a thread, its Bot shared with the
outbox delivery), built and initialized (one getMe) on the first update, and reused for
every later one: `update_dispatch` hands it one update and waits. The handlers'
database work runs back on the calling thread (`runtime.on_caller_thread`), inside its
connection and transaction.

The Application has no Updater (updates come from the webhook or `telegrambot.polling`, stored
first) and no JobQueue. What a handler raises is collected by the error handler (per
update: `handlers.handler_errors`) and re-raised here, so `telegrambot.updates.update_process`
can count the attempt and retry the update later.
"""

from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder

from agentsite.core.context import context_set
from .handlers import handler_errors, handlers_register
from .runtime import TelegramRuntime, telegram_runtime

# What the webhook (setWebhook) and polling (getUpdates) ask Telegram for.
ALLOWED_UPDATES = ["message", "callback_query"]


def application_build(bot: Bot) -> Application:
    """A new Application with the bot's handlers on `bot` (made by `telegrambot.bot.bot_build`)."""
    app = ApplicationBuilder().bot(bot).updater(None).job_queue(None).build()
    handlers_register(app)
    return app


def update_dispatch(payload: dict) -> None:
    """Process one update from sync code; raises what a handler raised (or
    TelegramNotConfigured, or what initializing the Application raised)."""
    runtime = telegram_runtime()
    runtime.run(update_handle(runtime, payload))


async def update_handle(runtime: TelegramRuntime, payload: dict) -> None:
    """Process one update (its JSON, as Telegram sent it) on the runtime's loop."""
    app = await runtime.application(application_build)
    with context_set(handler_errors, []) as errors:
        await app.process_update(Update.de_json(payload, app.bot))
    if errors:
        raise errors[0]
