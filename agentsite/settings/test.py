"""Test settings: the base settings with Django-Q2 running tasks inline."""

from .base import *  # noqa: F401,F403
from .base import Q_CLUSTER

# Read once when django_q loads its Conf, so it must be set here, not per test.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests never reach a real service: credentials are blank unless a fixture sets
# them (pointing the SDKs at loopback fakes).
ANTHROPIC_API_KEY = ""
CLAUDE_CODE_OAUTH_TOKEN = ""
ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
TELEGRAM_BOT_TOKEN = ""
TELEGRAM_WEBHOOK_SECRET = ""
TELEGRAM_API_BASE_URL = "http://127.0.0.1:9/bot"
MASTER_CHAT_IDS = []
