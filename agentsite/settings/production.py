"""Production settings: what gunicorn/uvicorn load by default (wsgi.py, asgi.py).

The base settings with DEBUG off unless DJANGO_DEBUG says otherwise (so the secure
defaults apply: secure cookies, HSTS, HTTPS redirect behind the TLS proxy, WhiteNoise),
and two variables required, each with a one-line error: DJANGO_SECRET_KEY, strong enough
for Django's deploy check, and DJANGO_ALLOWED_HOSTS.
"""

import os

from .env import ConfigError, env

# After env (which reads .env), so DJANGO_DEBUG from the OS or .env still wins.
if env.raw("DJANGO_DEBUG") is None:
    os.environ["DJANGO_DEBUG"] = "false"

from .base import *  # noqa: E402,F401,F403
from .base import ALLOWED_HOSTS, DEBUG, SECRET_KEY  # noqa: E402

if not DEBUG:
    # Django's own bar (security.W009): 50 characters, 5 different, not a generated dev key.
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
        raise ConfigError(
            "DJANGO_SECRET_KEY", SECRET_KEY,
            "at least 50 random characters, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
        )
    if not ALLOWED_HOSTS:
        raise ConfigError(
            "DJANGO_ALLOWED_HOSTS", None,
            "the comma-separated host names this site answers to, e.g. agent.example.org",
        )
