"""Default settings module (web server, worker, management commands)."""

from .base import *  # noqa: F401,F403
