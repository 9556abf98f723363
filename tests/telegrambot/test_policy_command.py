"""Telegram's /policy: the per-action policy, read-only."""

import pytest

pytestmark = pytest.mark.django_db


def test_telegram_policy_command_shows_the_policy(settings):
    from decisions.policy import action_policy_set
    from telegrambot.commands import command_reply

    settings.APPROVAL_TIMEOUT_SECONDS = 3600
    action_policy_set(action="develop_skill", mode="ask_always", by="m")
    reply = command_reply(name="policy", args="", actor="1001")
    assert reply.startswith("Action policy")
    assert "develop_skill: always ask; approvals wait 3,600 s" in reply
    assert "proactive_outreach: act at certainty >= 0.8" in reply and "floor: always asks" in reply
