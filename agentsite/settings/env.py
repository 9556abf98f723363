"""The one place that reads the environment, strictly.

A `.env` file in the project folder is read only if present; variables already
set in the OS environment win over it.

Every reader takes the raw string and parses it itself (django-environ's own casts
strip characters and guess: "1e300" or "soon" as a float, "maybe" as false). A bad
value raises `ConfigError`, whose message is one line naming the variable, the value
(`<hidden>` for a secret, a URL's password always hidden) and what is expected;
manage.py, wsgi.py and asgi.py print just that line. An empty value counts as unset.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Environment variables whose values are never shown, and the setting each becomes
# (agentsite.core.redaction scrubs those settings' values from every log line).
SECRET_VARIABLES = {
    "ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN": "CLAUDE_CODE_OAUTH_TOKEN",
    "TELEGRAM_BOT_TOKEN": "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET": "TELEGRAM_WEBHOOK_SECRET",
    "DJANGO_SECRET_KEY": "SECRET_KEY",
}
HIDDEN = "<hidden>"
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
# The database URL schemes whose backend ships with Django (others need a package).
DJANGO_DB_SCHEMES = tuple(
    sorted(scheme for scheme, engine in environ.Env.DB_SCHEMES.items() if engine.startswith("django."))
)
# The four prices of a model, USD per million tokens (MODEL_PRICES, MODEL_PRICES_JSON).
PRICE_FIELDS = ("input", "output", "cache_write", "cache_read")
_INT = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class ConfigError(ImproperlyConfigured):
    """A variable's value is unusable: one line, safe to print."""

    def __init__(self, name: str, raw: str | None, expected: str):
        super().__init__(f"Invalid configuration: {name}{shown(name, raw)}: expected {expected}")


def at_most(name: str, value, bound_name: str, bound, *, why: str = "") -> None:
    """A cross-field rule: `name`'s value may not exceed `bound_name`'s."""
    if value > bound:
        raise ConfigError(name, str(value), f"at most {bound_name}={bound}" + (f" ({why})" if why else ""))


def shown(name: str, raw: str | None) -> str:
    """How a value appears in an error: quoted, clipped, never a secret or a password."""
    if raw is None:
        return " is not set"
    if name in SECRET_VARIABLES:
        return f"={HIDDEN}"
    raw = _without_password(raw)
    if len(raw) > 80:
        raw = raw[:77] + "..."
    return "=" + repr(raw)  # repr: a newline or control character stays on the one line


def _without_password(url: str) -> str:
    """user:password@host (with or without a scheme) → user:<hidden>@host."""
    scheme, sep, rest = url.rpartition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:{HIDDEN}@{host}"


def _range(lowest, highest, *, unit: str = "") -> str:
    unit = f" {unit}" if unit else ""
    if lowest is not None and highest is not None:
        return f"{unit} from {lowest} to {highest}"
    if lowest is not None:
        return f"{unit}, at least {lowest}"
    if highest is not None:
        return f"{unit}, at most {highest}"
    return unit


class StrictEnv(environ.Env):
    """environ.Env whose readers validate, e.g. env.int(name, default, min=1)."""

    def raw(self, name: str) -> str | None:
        """The variable's text, stripped; None when unset or empty."""
        value = self.ENVIRON.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def str(self, name, default="", *, pattern: str | None = None, expected: str = ""):  # noqa: A003
        value = self.ENVIRON.get(name) or ""
        if not value:
            return default
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(name, value, expected or f"text matching {pattern}")
        return value

    def int(self, name, default, *, min=None, max=None, unit=""):  # noqa: A002,A003
        raw = self.raw(name)
        if raw is None:
            return default
        expected = "a whole number" + _range(min, max, unit=unit)
        if not _INT.fullmatch(raw):
            raise ConfigError(name, raw, expected)
        value = int(raw)
        if (min is not None and value < min) or (max is not None and value > max):
            raise ConfigError(name, raw, expected)
        return value

    def float(self, name, default, *, above=None, min=None, max=None, unit=""):  # noqa: A002,A003
        raw = self.raw(name)
        if raw is None:
            return default
        expected = "a number" + (f" {unit}" if unit else "")
        if above is not None:
            expected += f" above {above}"
        elif min is not None:
            expected += f" from {min}"
        if max is not None:
            expected += f" to {max}" if min is not None and above is None else \
                f"{' and' if above is not None else ','} at most {max}"
        if not _DECIMAL.fullmatch(raw):
            raise ConfigError(name, raw, expected)
        value = float(raw)
        if (above is not None and not value > above) or (min is not None and not value >= min) \
                or (max is not None and value > max):
            raise ConfigError(name, raw, expected)
        return value

    def bool(self, name, default):  # noqa: A003
        raw = self.raw(name)
        if raw is None:
            return default
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(name, raw, "one of true/false, 1/0, yes/no, on/off")

    def choice(self, name, default, choices):
        raw = self.raw(name)
        if raw is None:
            return default
        if raw.upper() not in choices:
            raise ConfigError(name, raw, "one of " + ", ".join(choices))
        return raw.upper()

    def list(self, name, default=None, *, item_pattern: str | None = None, expected: str = ""):  # noqa: A003
        raw = self.raw(name)
        if raw is None:
            return [] if default is None else default
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if item_pattern is not None and not all(re.fullmatch(item_pattern, item) for item in items):
            raise ConfigError(name, raw, expected or f"comma-separated items matching {item_pattern}")
        return items

    def int_list(self, name):
        """A comma-separated list of whole numbers (chat ids); empty when unset."""
        items = self.list(name, [], item_pattern=_INT.pattern, expected="comma-separated whole numbers (Telegram chat ids)")
        return [int(item) for item in items]

    def url(self, name, default="", *, schemes: tuple, host: bool = True):
        """A URL as text (not django-environ's ParseResult) with one of `schemes`."""
        raw = self.raw(name)
        if raw is None:
            return default
        expected = f"a URL starting with {' or '.join(s + '://' for s in schemes)}"
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018  (a non-numeric port raises here)
        except ValueError:
            raise ConfigError(name, raw, expected) from None
        if parts.scheme.lower() not in schemes or (host and not parts.hostname):
            raise ConfigError(name, raw, expected)
        return raw

    def db(self, name, default):
        """A Django DATABASES entry from a database URL with a scheme Django supports."""
        raw = self.raw(name) or default
        expected = (
            "a database URL such as postgres://user:password@host:5432/name or sqlite:////path/db.sqlite3"
            f" (schemes: {', '.join(DJANGO_DB_SCHEMES)})"
        )
        scheme = raw.partition("://")[0].lower() if "://" in raw else ""
        if scheme not in DJANGO_DB_SCHEMES:
            raise ConfigError(name, raw, expected)
        try:
            config = environ.Env.db_url_config(raw)
        except Exception:  # django-environ raises KeyError/ValueError/... on a malformed URL
            raise ConfigError(name, raw, expected) from None
        if not config.get("NAME"):
            raise ConfigError(name, raw, expected)
        return config

    db_url = db

    def decimal(self, name, default=None, *, above=None, max=None, unit=""):  # noqa: A002
        """A decimal number (money), exact: Decimal, never float; None/default when unset."""
        raw = self.raw(name)
        if raw is None:
            return default
        expected = "a number" + (f" {unit}" if unit else "") + (f" above {above}" if above is not None else "")
        expected += f"{' and' if above is not None else ','} at most {max}" if max is not None else ""
        if not _DECIMAL.fullmatch(raw):
            raise ConfigError(name, raw, expected)
        value = Decimal(raw)
        if not value.is_finite() or (above is not None and not value > above) or (max is not None and value > max):
            raise ConfigError(name, raw, expected)
        return value

    def percent_list(self, name, default: list[int]) -> list[int]:
        """Comma-separated whole percentages from 1 to 100, sorted, without repeats.
        Unset: `default`; set to blank or "none"/"off": [] (turned off)."""
        value = self.ENVIRON.get(name)
        if value is None:
            return list(default)
        raw = value.strip()
        if raw.lower() in ("", "none", "off"):
            return []
        items = [item.strip() for item in raw.split(",")]
        expected = "comma-separated whole percentages from 1 to 100 (e.g. 50,80,95), or empty to turn alerts off"
        if not all(re.fullmatch(r"\d{1,3}", item) and 1 <= int(item) <= 100 for item in items):
            raise ConfigError(name, raw, expected)
        return sorted({int(item) for item in items})

    def model_prices(self, name) -> dict[str, dict[str, Decimal]]:
        """A JSON object of model prices in USD per million tokens:
        {"<model id prefix>": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3}};
        input and output required, the cache prices optional (1.25x and 0.1x input). {} when unset."""
        raw = self.raw(name)
        if raw is None:
            return {}
        expected = (
            'a JSON object such as {"claude-sonnet": {"input": 3, "output": 15}}: model id prefixes to'
            " USD per million tokens (input, output; optional cache_write, cache_read), each from 0 to 100000"
        )
        try:
            data = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            raise ConfigError(name, raw, expected) from None
        if not isinstance(data, dict) or not data:
            raise ConfigError(name, raw, expected)
        prices = {}
        for model, entry in data.items():
            if not re.fullmatch(r"\S+", model) or not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
                raise ConfigError(name, raw, expected)
            if set(entry) - set(PRICE_FIELDS):
                raise ConfigError(name, raw, expected)
            for value in entry.values():
                if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 100_000:
                    raise ConfigError(name, raw, expected)
            prices[model.lower()] = dict(entry)
        return prices


env = StrictEnv()

_dotenv = BASE_DIR / ".env"
if _dotenv.is_file():
    environ.Env.read_env(str(_dotenv), overwrite=False)
