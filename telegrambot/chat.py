"""Reactive chat: the Master writes, Claude answers, with the conversation so far.

The reply comes from `budget.client.claude_complete(scope="reactive")`: recorded in the
ledger, never limited by (nor counted against) the proactive budget. The context is the
chat's last MESSAGE_HISTORY_LIMIT conversation messages as alternating user/assistant
turns, and a system prompt carrying a short summary of the agent's state, so "how are
you doing?" gets a true answer. Failures of the model become a short apology naming the
kind of failure (never a stack trace); the apology is not part of later history.
"""

import logging

from budget.client import claude_complete
from agentsite.core.errors import ApplicationError
from budget.errors import ClaudeCallError, ClaudeNotConfigured
from budget.models import Scope

from .messages import reply_send
from .models import ChatMessage, Direction, MessageKind
from .selectors import chat_history
from .status import status_text

logger = logging.getLogger(__name__)

EMPTY_REPLY = "(I have nothing to add.)"

SYSTEM_PROMPT = """\
You are the autonomous agent of agentsite, talking with your Master, the human who \
oversees you, in a Telegram chat. Between conversations you run on your own: in \
cycles you decide what to do (work on tasks, develop skills, meditate, reach out), \
paced by a daily token budget, and you ask the Master before anything risky.

In this chat you only talk; you cannot act from here. When the Master wants something \
done, say so plainly and point to the commands: /task <text> adds a task, /approvals \
lists what waits for their decision, /approve <id> and /reject <id> decide, /pause and \
/resume stop and restart your cycles, /status and /budget show where things stand.

Be brief and direct, as in a chat on a phone. Write plain text: no Markdown, no \
headings, no tables. Never invent facts about your state; the summary below is \
current, and if something is not in it, say you don't know.

Your state right now:
{state}"""


def chat_reply(*, update_id: int, chat_id: int, message_id: int | None = None) -> ChatMessage:
    """Answer the Master's message (the ChatMessage `message_id`; default: the chat's
    latest) with Claude and queue the reply (idempotent per update). The history ends
    with that message: one sent after it, being handled concurrently, is not included."""
    history = chat_history(chat_id=chat_id, upto_id=message_id)
    messages = history_messages(history)
    if not messages:  # nothing from the Master to answer (cannot happen via the handlers)
        return reply_send(chat_id=chat_id, update_id=update_id, kind=MessageKind.ERROR,
                          text="I didn't catch a message to answer.")
    try:
        reply = claude_complete_chat(system=SYSTEM_PROMPT.format(state=status_text(for_model=True)), messages=messages,
                                     chat_id=chat_id, update_id=update_id)
    except ClaudeNotConfigured:
        return reply_send(chat_id=chat_id, update_id=update_id, kind=MessageKind.ERROR,
                          text="Sorry, I can't answer right now: my model is not configured (not_configured).")
    except ClaudeCallError as exc:
        return reply_send(chat_id=chat_id, update_id=update_id, kind=MessageKind.ERROR,
                          text=f"Sorry, I couldn't answer that: the model call failed ({exc.kind}). "
                               "Please try again in a little while.")
    except ApplicationError as exc:
        logger.warning("Chat reply for update %s failed: %s", update_id, exc.message)
        return reply_send(chat_id=chat_id, update_id=update_id, kind=MessageKind.ERROR,
                          text=f"Sorry, I couldn't answer that ({exc.kind}).")
    return reply_send(chat_id=chat_id, update_id=update_id, kind=MessageKind.CHAT, text=reply.strip() or EMPTY_REPLY)


def claude_complete_chat(*, system: str, messages: list[dict], chat_id: int, update_id: int) -> str:
    """One reactive model call; the reply's text."""
    reply = claude_complete(
        system=system,
        messages=messages,
        scope=Scope.REACTIVE,
        meta={"chat_id": chat_id, "purpose": "chat", "update_id": update_id},
    )
    return reply.text


def history_messages(rows: list[ChatMessage]) -> list[dict]:
    """Stored messages as Messages API turns: received → user, sent → assistant;
    consecutive turns of one role merged (blank line between); leading assistant turns
    dropped (the API wants the user first); so is a trailing assistant turn (the last
    turn must be the Master's, the one being answered)."""
    turns: list[dict] = []
    for row in rows:
        text = row.text.strip()
        if not text:
            continue
        role = "user" if row.direction == Direction.IN else "assistant"
        if not turns and role == "assistant":
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    while turns and turns[-1]["role"] == "assistant":
        turns.pop()
    return turns
