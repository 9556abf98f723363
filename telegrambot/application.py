"""The python-telegram-bot Application that handles updates: the one handling path.

PTB is async; the webhook view, Django-Q2 tasks and the poller are sync. Its Bot holds
httpx clients bound to the event loop they were opened on, so nothing is kept between
updates: `update_dispatch` builds the Application lazily, inside a fresh event loop
(asgiref's `async_to_sync`, which also runs the handlers' `sync_to_async` work back on
the calling thread, inside its database connection and transaction), initializes it
(getMe), processes the one update and shuts it down. No loop outlives a call, so there
is no "Event loop is closed" on the next update.

The Application has no Updater (updates come from the webhook or `telegrambot.polling`, stored
first) and no JobQueue. What a handler raises is collected by the error handler and
re-raised here, so `telegrambot.updates.update_process` can count the attempt and
retry the update later.
"""

from asgiref.sync import async_to_sync
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from .bot import bot_build, bot_settings
from .handlers import ERRORS_KEY, handlers_register

# What the webhook (setWebhook) and polling (getUpdates) ask Telegram for.
ALLOWED_UPDATES = ["message", "callback_query"]


def application_build() -> Application:
    """A new Application with the bot's handlers and a Bot made as every Bot is
    (`telegrambot.bot.bot_build`; fails fast, with TelegramNotConfigured, when there is no
    bot token). Call it on the running loop."""
    bot, _ = bot_build(bot_settings())  # the Application initializes and shuts it down
    app = ApplicationBuilder().bot(bot).updater(None).job_queue(None).build()
    handlers_register(app)
    return app


async def update_handle(payload: dict) -> None:
    """Process one update (its JSON, as Telegram sent it) on the running loop."""
    app = application_build()
    async with app:  # initialize() (getMe) ... shutdown()
        await app.process_update(Update.de_json(payload, app.bot))
    errors = app.bot_data.get(ERRORS_KEY) or []
    if errors:
        raise errors[0]


def update_dispatch(payload: dict) -> None:
    """Process one update from sync code, in a fresh event loop; raises what a handler raised."""
    async_to_sync(update_handle)(payload)
