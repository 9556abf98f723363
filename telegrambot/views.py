"""The webhook Telegram posts updates to: checked, stored once, handled by a worker.

Off (404) unless both TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET are set. Telegram
sends the secret given to setWebhook in X-Telegram-Bot-Api-Secret-Token; a request
without it or with another one gets 403 (compared in constant time), as PTB's own
webhook server does. The body must be an Update (a JSON object with an integer
update_id), else 400. A valid update is stored idempotently on update_id and queued for
`telegrambot.tasks.update_process_task` once committed; the answer is 200 straight away
(Telegram redelivers on anything else). A redelivered update is answered 200 and not
handled again.

No input makes it answer 500: a body nested deeper than MAX_JSON_DEPTH (checked on the
raw bytes before parsing, since parsing, cleaning and storing all recurse), with a
non-finite number, or one the database refuses to store is a 400 and nothing is stored.
"""

import hmac
import json
import logging
import math
import re
from itertools import accumulate

from django.conf import settings
from django.db import DataError, IntegrityError
from django.http import HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import UpdateSource
from .updates import UpdateInvalid, update_receive

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Real updates nest about ten levels (a reply's message, keyboards of rows of buttons).
MAX_JSON_DEPTH = 64
# A string literal; the closing quote is optional so that an unterminated string ends the
# match instead of being retried from every later quote (quadratic on `"\"\"\"...`).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
# +1 for an opening bracket, -1 for a closing one, 0 for any other byte.
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings ignored, without recursion.

    Linear and in C (a regex, then map/accumulate/max); on invalid JSON the number is
    only an estimate, which is fine: such a body is refused anyway."""
    brackets = _JSON_STRING.sub(b"", body)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _finite(text: str) -> float:
    # 1e400 parses to inf, which JSON (and PostgreSQL's jsonb) can't hold.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def body_parse(body: bytes) -> object:
    """The JSON value of a webhook body; ValueError when it isn't one we can keep.

    UTF-8 only (what Telegram sends): given bytes, json.loads would also read UTF-16 and
    UTF-32, whose code units can carry quote and bracket bytes the depth scan would
    misread. In UTF-8 every byte below 0x80 is that character, so scan and parser agree."""
    text = body.decode("utf-8-sig")  # a leading BOM is skipped, as json.loads did
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH}")
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)


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
        payload = body_parse(request.body)
    except ValueError:  # UnicodeDecodeError and json's errors are ValueErrors
        return JsonResponse({"ok": False, "error": "the body is not JSON we accept"}, status=400)
    try:
        update, created = update_receive(payload=payload, source=UpdateSource.WEBHOOK)
    except UpdateInvalid as exc:
        return JsonResponse({"ok": False, "error": exc.message}, status=400)
    except (IntegrityError, DataError, ValueError) as exc:
        # The database refused this body (the transaction was rolled back: nothing is
        # stored). Not OperationalError: an outage stays a 5xx so Telegram redelivers.
        logger.warning("Telegram webhook: an update the database can't store was refused (%s)", type(exc).__name__)
        return JsonResponse({"ok": False, "error": "the update can't be stored"}, status=400)
    if not created:
        logger.info("Telegram webhook: update %s redelivered; already stored", update.update_id)
    return JsonResponse({"ok": True})
