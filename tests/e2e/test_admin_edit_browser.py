"""End to end, in a real browser: the Master edits a pending outreach message on the
approval page and approves it; the fake Telegram receives the edited text, not the agent's."""

import re

import pytest

from decisions.approvals import approval_request_decision
from decisions.models import Approval, ApprovalStatus
from telegrambot.delivery import outbox_deliver
from tests.factories import decision

PASSWORD = "a-long-browser-test-password"
EDITED = "Hello Ada, my Master asked me to say hi, and to keep it short."


@pytest.mark.django_db(transaction=True)
def test_the_master_edits_an_outreach_message_and_the_edited_text_is_sent(
    live_server, page, telegram, django_user_model, artifacts_dir
):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("master", "master@example.com", PASSWORD)
    approval = approval_request_decision(
        decision=decision("proactive_outreach", certainty=0.95, chat_id=5555,
                          message="Hello from the agent", purpose="introduce"),
        cycle=None,
    )

    page.goto(f"{live_server.url}/admin/login/?next=/admin/decisions/approval/{approval.pk}/change/")
    page.fill("#id_username", "master")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#approval-status")).to_have_text("pending")

    message = page.locator("#id_details-message")
    expect(message).to_have_value("Hello from the agent")
    # Approve is the primary (Django admin's `default`) button, Reject the secondary one.
    expect(page.locator("#approve-button")).to_have_class(re.compile(r"\bdefault\b"))
    expect(page.locator("#reject-button")).not_to_have_class(re.compile(r"\bdefault\b"))

    # An invalid edit is refused on the page and nothing changes.
    message.fill("   ")
    page.click("#approve-button")
    refusal = "Nothing changed: invalid edit of proactive_outreach: message"
    expect(page.locator("ul.messagelist")).to_contain_text(refusal)
    expect(page.locator("#approval-status")).to_have_text("pending")

    page.locator("#id_details-message").fill(EDITED)
    page.screenshot(path=str(artifacts_dir / "e2e-approval-edit.png"), full_page=True)
    page.click("#approve-button")

    expect(page.locator("ul.messagelist")).to_contain_text(f"Approved #{approval.pk} with your edit")
    expect(page.locator("#approval-status")).to_have_text(re.compile(r"^(approved|executed)$"))
    page.screenshot(path=str(artifacts_dir / "e2e-approval-edited.png"), full_page=True)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert approval.payload["details"]["message"] == "Hello from the agent"  # the original, kept
    assert approval.edited_details["message"] == EDITED
    outbox_deliver()  # whatever the inline delivery task has not sent yet
    assert telegram.texts(chat_id=5555) == [EDITED]
    assert Approval.objects.filter(pk=approval.pk, decided_via="admin", decided_by="master").exists()
