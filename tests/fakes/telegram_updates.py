"""Telegram Update objects for scripted updates: what the fake Bot API's getUpdates
returns, or a webhook test's POST body."""

import time
import zlib

BOT_ID = 123456
BOT_USERNAME = "agentsite_test_bot"
MASTER_ID = 1001


def user(user_id: int = MASTER_ID, *, first_name: str = "Master", username: str = "master") -> dict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "username": username,
            "language_code": "en"}


def private_chat(chat_id: int = MASTER_ID, *, first_name: str = "Master", username: str = "master") -> dict:
    return {"id": chat_id, "type": "private", "first_name": first_name, "username": username}


def message_update(text: str, *, chat_id: int = MASTER_ID, user_id: int | None = None,
                   message_id: int = 1, update_id: int | None = None) -> dict:
    """An Update carrying a private text message from `user_id` (default: the chat's id)."""
    sender = user(chat_id if user_id is None else user_id)
    message = {"message_id": message_id, "date": int(time.time()), "chat": private_chat(chat_id),
               "from": sender, "text": text}
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    update = {"message": message}
    if update_id is not None:
        update["update_id"] = update_id
    return update


def callback_query_update(data: str, *, chat_id: int = MASTER_ID, user_id: int | None = None,
                          message_id: int = 1, message_text: str = "…", query_id: str | None = None,
                          update_id: int | None = None) -> dict:
    """An Update carrying a press of an inline button (callback_data `data`) under one of
    the bot's messages."""
    sender = user(chat_id if user_id is None else user_id)
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Agent", "username": BOT_USERNAME}
    query = {
        "id": query_id or f"cbq-{chat_id}-{message_id}-{zlib.crc32(data.encode())}",
        "from": sender,
        "chat_instance": f"ci-{chat_id}",
        "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": private_chat(chat_id),
                    "from": bot_user, "text": message_text},
    }
    update = {"callback_query": query}
    if update_id is not None:
        update["update_id"] = update_id
    return update
