"""What each action's `details` must hold. The model's output is validated against
these before anything runs; unknown extra keys are ignored."""

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import SKILL_NAME_MAX_CHARS

MEDITATION_DEFAULT_SECONDS = 60
MEDITATION_MAX_SECONDS = 600
MASTER = "master"
# Telegram chat ids fit in 52 bits; anything larger is not a chat (and not a bigint either).
CHAT_ID_LIMIT = 10**15
_CHAT_ID = re.compile(r"-?[0-9]{1,16}")


class Details(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    # The one detail that is "the text" of a decision, which the Master may rewrite in one
    # step (Telegram's Edit button and /edit, `approvals edit`); None: edit it field by field.
    EDITABLE_TEXT_FIELD: ClassVar[str | None] = None


class DevelopSkillDetails(Details):
    skill_name: str = Field(min_length=1, max_length=SKILL_NAME_MAX_CHARS)
    approach: str = Field(default="", max_length=2_000)
    duration_estimate: int | None = Field(default=None, ge=0, le=24 * 60)


class WorkOnTaskDetails(Details):
    task_id: int = Field(ge=1)
    approach: str = Field(default="", max_length=2_000)


class CommunicateDetails(Details):
    EDITABLE_TEXT_FIELD: ClassVar[str | None] = "message"

    recipient: str = Field(default=MASTER, max_length=64)
    message: str = Field(min_length=1, max_length=4_000)
    priority: Literal["low", "medium", "high"] = "medium"

    @field_validator("recipient", mode="before")
    @classmethod
    def _recipient_text(cls, value):
        return MASTER if value in (None, "") else str(value)

    @field_validator("recipient", mode="after")
    @classmethod
    def _master_or_chat_id(cls, value: str) -> str:
        # Checked here, so a message that could never be sent is an invalid decision,
        # not an approval request the Master would approve in vain.
        if value.lower() == MASTER:
            return value
        if not _CHAT_ID.fullmatch(value):
            raise ValueError("must be 'master' or a numeric Telegram chat id")
        chat_id = int(value)
        if chat_id == 0 or abs(chat_id) >= CHAT_ID_LIMIT:
            raise ValueError("is not a Telegram chat id")
        return str(chat_id)

    @property
    def to_master(self) -> bool:
        return self.recipient.lower() == MASTER


class MeditateDetails(Details):
    duration: int = Field(default=MEDITATION_DEFAULT_SECONDS)
    reflection_topic: str = Field(default="", max_length=500)

    @field_validator("duration", mode="after")
    @classmethod
    def _cap(cls, value: int) -> int:
        return max(1, min(value, MEDITATION_MAX_SECONDS))


class AskMasterDetails(Details):
    question: str = Field(min_length=1, max_length=1_000)
    context: str = Field(default="", max_length=2_000)
    options: list[str] = Field(default_factory=list, max_length=6)

    @field_validator("options", mode="after")
    @classmethod
    def _short_options(cls, value: list[str]) -> list[str]:
        return [option.strip()[:60] for option in value if option and option.strip()]


class ProactiveOutreachDetails(Details):
    EDITABLE_TEXT_FIELD: ClassVar[str | None] = "message"

    chat_id: int = Field(gt=-CHAT_ID_LIMIT, lt=CHAT_ID_LIMIT)
    message: str = Field(min_length=1, max_length=4_000)
    purpose: str = Field(default="", max_length=500)


DETAILS_MODELS: dict[str, type[Details]] = {
    "develop_skill": DevelopSkillDetails,
    "work_on_task": WorkOnTaskDetails,
    "communicate": CommunicateDetails,
    "meditate": MeditateDetails,
    "ask_master": AskMasterDetails,
    "proactive_outreach": ProactiveOutreachDetails,
}
ACTIONS = tuple(DETAILS_MODELS)
