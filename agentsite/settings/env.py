"""The one place that reads the environment.

A `.env` file in the project folder is read only if present; variables already
set in the OS environment win over it.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

_dotenv = BASE_DIR / ".env"
if _dotenv.is_file():
    environ.Env.read_env(str(_dotenv), overwrite=False)


def env_int_list(name: str) -> list[int]:
    """A comma-separated list of integers (chat ids); empty when unset."""
    raw = env.str(name, default="")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    try:
        return [int(item) for item in items]
    except ValueError as exc:
        raise environ.ImproperlyConfigured(
            f"{name} must be comma-separated integers (Telegram chat ids)"
        ) from exc
