"""The webhook Telegram posts updates to: checked, stored once, handled by a worker.

Off (404) unless both TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET are set. Telegram
sends the secret given to setWebhook in X-Telegram-Bot-Api-Secret-Token; a request
without it or with another one gets 403 (compared in constant time), as PTB's own
webhook server does. The body must be an Update (a JSON object with an integer
update_id), else 400. A valid update is stored idempotently on update_id and queued for
`telegrambot.tasks.update_process_task` once committed; the answer is 200 straight away
(Telegram redelivers on anything else). A redelivered update is answered 200 and not
handled again.
"""

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import UpdateSource
from .services import UpdateInvalid, update_receive

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_enabled() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_WEBHOOK_SECRET)


@csrf_exempt
@require_POST
def webhook(request):
    if not webhook_enabled():
        return HttpResponseNotFound("Not found")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), settings.TELEGRAM_WEBHOOK_SECRET.encode()):
        logger.warning("Telegram webhook: request with a %s secret token refused", "wrong" if given else "missing")
        return HttpResponseForbidden("Forbidden")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"ok": False, "error": "the body is not JSON"}, status=400)
    try:
        update, created = update_receive(payload=payload, source=UpdateSource.WEBHOOK)
    except UpdateInvalid as exc:
        return JsonResponse({"ok": False, "error": exc.message}, status=400)
    if not created:
        logger.info("Telegram webhook: update %s redelivered; already stored", update.update_id)
    return JsonResponse({"ok": True})
