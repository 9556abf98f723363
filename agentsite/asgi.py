import os
import sys

from django.core.asgi import get_asgi_application

from agentsite.settings.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.production")
try:
    application = get_asgi_application()
except ConfigError as exc:
    print(exc, file=sys.stderr, flush=True)  # one line instead of a traceback
    sys.exit(4)
