"""End to end, in a real browser: the Master logs in, looks at the agent dashboard,
opens a pending decision from it and approves it; the decision is executed."""

import re

import pytest

from decisions.approvals import approval_request_decision
from decisions.models import Approval, ApprovalStatus
from tests.factories import decision

PASSWORD = "a-long-browser-test-password"


@pytest.mark.django_db(transaction=True)
def test_the_master_approves_a_decision_from_the_dashboard(
    live_server, page, settings, django_user_model, artifacts_dir
):
    from playwright.sync_api import expect

    settings.MASTER_CHAT_IDS = [1001]
    django_user_model.objects.create_superuser("master", "master@example.com", PASSWORD)
    approval = approval_request_decision(decision=decision("meditate", certainty=0.55), cycle=None)

    # Log in through the form.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "master")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # The index leads to the dashboard, which shows its charts and the pending decision.
    page.click("text=Agent dashboard")
    expect(page).to_have_url(f"{live_server.url}/admin/agent/")
    expect(page.locator("#agent-status")).to_have_text("running")
    expect(page.locator("svg.usage-chart")).to_be_visible()
    expect(page.locator("svg.history-chart")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "e2e-agent-dashboard.png"), full_page=True)

    page.click(f"#agent-approvals a[href='/admin/decisions/approval/{approval.pk}/change/']")
    expect(page.locator("#approval-status")).to_have_text("pending")
    page.fill("#id_note", "from the browser")
    page.click("#approve-button")

    # Django-Q2 runs tasks inline in tests, so the execution follows the approval at once.
    expect(page.locator("#approval-status")).to_have_text(re.compile(r"^(approved|executed)$"))
    expect(page.locator("ul.messagelist")).to_contain_text(f"Approved #{approval.pk}")
    page.screenshot(path=str(artifacts_dir / "e2e-approval-approved.png"), full_page=True)

    approval.refresh_from_db()
    assert approval.status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED)
    assert (approval.decided_by, approval.decided_via, approval.note) == ("master", "admin", "from the browser")
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.EXECUTED
