"""Where a change came from: the Master's surfaces, and the system itself.

In the kernel so that every app records it with the same names (approvals, memory
revisions, the Master's schedules)."""

from django.db import models


class Surface(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    TELEGRAM = "telegram", "Telegram"
    CLI = "cli", "Command line"
    SYSTEM = "system", "System"
