import os
import sys

from django.core.wsgi import get_wsgi_application

from agentsite.settings.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.production")
try:
    application = get_wsgi_application()
except ConfigError as exc:
    # One line instead of a traceback; 4 is gunicorn's "App failed to load", which stops
    # the master rather than respawning workers that fail the same way.
    print(exc, file=sys.stderr, flush=True)
    sys.exit(4)
