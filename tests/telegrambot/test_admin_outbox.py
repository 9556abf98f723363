"""The outbox admin (Notification, registered in telegrambot/admin.py): "Retry now" requeues
failed messages through the outbox service; rows are never added by hand."""

import pytest

from decisions.models import Notification

pytestmark = pytest.mark.django_db


def test_retry_now_requeues_failed_notifications_through_the_delivery_service(admin_client, world):
    failed = world["notification"]
    sent = Notification.objects.create(kind="message", text="hi", chat_id=1001, status="sent", idempotency_key="s1")
    response = admin_client.post(
        "/admin/decisions/notification/",
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued 1 notification(s)" in html and f"#{sent.pk} not retried" in html
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0) and failed.next_attempt_at is not None
    assert admin_client.get("/admin/decisions/notification/add/").status_code == 403
    filtered = admin_client.get("/admin/decisions/notification/", {"status__exact": "sent", "kind__exact": "message"})
    assert filtered.status_code == 200 and b"1 notification" in filtered.content
