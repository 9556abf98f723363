"""The Master's per-action policy as plain values: a mode and a certainty bar per action.

Pure (no database, no settings): the router (`parsing.needs_approval`), the system prompt
and the policy service share these. A missing policy row means `DEFAULT_RULE`.
"""

from dataclasses import dataclass

from django.db import models

DEFAULT_MIN_CERTAINTY = 0.8
# The longest approval wait a policy may set: a week.
APPROVAL_TIMEOUT_MAX_SECONDS = 7 * 24 * 3600


class PolicyMode(models.TextChoices):
    ASK_ALWAYS = "ask_always", "Always ask the Master"
    ACT_AT = "act_at", "Act at or above a certainty"
    DISABLED = "disabled", "Disabled"


@dataclass(frozen=True)
class ActionRule:
    """One action's policy: how it is routed, and how long its approvals wait
    (None: APPROVAL_TIMEOUT_SECONDS)."""

    mode: str = PolicyMode.ACT_AT
    min_certainty: float = DEFAULT_MIN_CERTAINTY
    approval_timeout_seconds: int | None = None

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_RULE


DEFAULT_RULE = ActionRule()


@dataclass(frozen=True)
class Policy:
    """Every action's rule; hashable, so the system prompt built from it is cached."""

    rules: tuple[tuple[str, ActionRule], ...] = ()

    def rule(self, action: str) -> ActionRule:
        return dict(self.rules).get(action, DEFAULT_RULE)

    @property
    def is_default(self) -> bool:
        return all(rule.is_default for _, rule in self.rules)


DEFAULT_POLICY = Policy()


# What no policy lowers (or raises), by action: parsing.needs_approval applies them first.
FLOORS = {
    "proactive_outreach": "always asks the Master (a message to someone else)",
    "communicate": "always asks when the recipient is not the Master",
    "ask_master": "never waits for approval (the question is the asking)",
}


def disabled_reason(action: str) -> str:
    """What the agent reads, next cycle, after choosing a disabled action."""
    return f"{action} is disabled by the Master; choose another action."
