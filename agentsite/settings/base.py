"""Settings for agentsite: every value comes from the environment (see .env.example)."""

import math
from decimal import Decimal

from .env import BASE_DIR, SECRET_VARIABLES, ConfigError, at_most, env

DAY = 24 * 3600
YEAR = 366 * DAY  # bound of every duration that becomes a date: no overflow at run time
HTTP = ("http", "https")

DEBUG = env.bool("DJANGO_DEBUG", default=True)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("DJANGO_SECRET_KEY", None, "a long random value (required when DJANGO_DEBUG is off)")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=LOCAL_HOSTS if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "axes",
    "budget",
    "memory",
    "actions",
    "decisions",
    "telegrambot",
    "agentsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it locks out repeated failed admin logins.
    "axes.middleware.AxesMiddleware",
]

# Behind a TLS-terminating proxy (Telegram webhooks need HTTPS): trust its header, list
# the public origin for CSRF, and keep cookies on HTTPS.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[], item_pattern=r"https?://\S+",
                                expected="comma-separated origins with their scheme, e.g. https://agent.example.org")
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies that append to X-Forwarded-For in front of us: the client is the address that
# many hops from its right, so a client-chosen X-Forwarded-For can't pick its own address
# (and reset its throttle). Without a proxy the header is ignored altogether.
# At least 1 behind the proxy: 0 would make the proxy's own address everyone's (one
# client's throttle and login lockout hit all); a negative count would pick a
# client-written hop.
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", 1, min=1) if BEHIND_TLS_PROXY else 0
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
# HTTPS only, once a TLS proxy is in front and DEBUG is off. /health stays reachable over
# plain HTTP for container healthchecks that bypass the proxy.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=BEHIND_TLS_PROXY and not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
# Sent only on HTTPS responses, so harmless without TLS. Subdomains and preload commit
# the whole domain for years: only when asked.
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000, min=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)

if not DEBUG:
    # Serves the collected static files (admin, Swagger UI) when no web server sits in
    # front; in development runserver does it.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "agentsite.urls"
WSGI_APPLICATION = "agentsite.wsgi.application"
ASGI_APPLICATION = "agentsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: a process (gunicorn worker, Django-Q2 worker) keeps its connection
# for up to five minutes across requests and tasks (Django, and Django-Q2 before each task,
# close only connections older than that, or broken), instead of opening one per request
# or task; checked before reuse, so one the server dropped is replaced, not an error.
DATABASES["default"]["CONN_MAX_AGE"] = 300
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so concurrent
    # writers queue (up to `timeout` seconds) instead of failing mid-transaction.
    # WAL: readers never block the writer nor the writer them, and a commit appends to the
    # log instead of rewriting pages. synchronous=NORMAL in WAL mode fsyncs at checkpoints,
    # not at every commit: a committed transaction survives a crash of the process (the
    # reservation made before a model call included); only a power loss or an OS crash can
    # lose the last commits, never corrupt the file. (WAL is a property of the file: set on
    # every connection, it is a no-op after the first; an in-memory test database stays
    # in its own "memory" journal mode.)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Admin login limiting (django-axes) --------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", 5, min=1)
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True
# Lock the (address, username) pair: a stranger can't lock the Master out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
# The address is the API throttles' own (NUM_PROXIES above), so both count the same
# client. This callable takes precedence over django-ipware (not installed; without it
# axes 8 would use REMOTE_ADDR, i.e. the proxy's address for everyone behind one).
AXES_CLIENT_IP_CALLABLE = "agentsite.api.throttling.client_ip"

# --- REST API -----------------------------------------------------------------
# What DRF's SimpleRateThrottle.parse_rate reads: a count, "/", a period by its first letter.
THROTTLE_RATE = r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)"
THROTTLE_RATE_TEXT = "requests per period, e.g. 30/minute (periods: second, minute, hour, day)"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="30/minute", pattern=THROTTLE_RATE, expected=THROTTLE_RATE_TEXT),
        "user": env.str("API_THROTTLE_USER", default="600/minute", pattern=THROTTLE_RATE, expected=THROTTLE_RATE_TEXT),
    },
    # Unset, DRF would count the whole X-Forwarded-For as the address: a new header, a
    # fresh anonymous allowance.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "agentsite API",
    "DESCRIPTION": "Oversee the autonomous agent: budget, cycles, approvals, tasks, memory.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Claude -----------------------------------------------------------------
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
CLAUDE_CODE_OAUTH_TOKEN = env.str("CLAUDE_CODE_OAUTH_TOKEN", default="")
ANTHROPIC_BASE_URL = env.url("ANTHROPIC_BASE_URL", default="", schemes=HTTP)  # empty: the SDK's default
AGENT_MODEL = env.str("AGENT_MODEL", default="claude-sonnet-5-5", pattern=r"\S+", expected="a model id without spaces")
AGENT_MAX_TOKENS = env.int("AGENT_MAX_TOKENS", 2048, min=1)
# Each attempt's timeout (per read/connect), how many retries budget.client makes (the one
# retry layer), and the hard deadline of one model call: all attempts, backoff, retry-after
# waits and body reads together. Reservation holds and the cycle lock are derived from it.
# At most a day: past that the derived lock and worker timeouts stop making sense.
AGENT_LLM_TIMEOUT_SECONDS = env.float("AGENT_LLM_TIMEOUT_SECONDS", 60.0, above=0, max=DAY, unit="of seconds")
AGENT_LLM_MAX_RETRIES = env.int("AGENT_LLM_MAX_RETRIES", 2, min=0)
AGENT_LLM_DEADLINE_SECONDS = env.float("AGENT_LLM_DEADLINE_SECONDS", 300.0, above=0, max=DAY, unit="of seconds")

# --- Budget -----------------------------------------------------------------
PROACTIVE_DAILY_TOKEN_LIMIT = env.int("PROACTIVE_DAILY_TOKEN_LIMIT", 7_000_000, min=1)
# Unset, it follows a daily limit below 10000; set, it must fit in the limit.
PROACTIVE_MIN_CYCLE_TOKENS = env.int("PROACTIVE_MIN_CYCLE_TOKENS", min(10_000, PROACTIVE_DAILY_TOKEN_LIMIT), min=0)
PROACTIVE_MIN_INTERVAL_SECONDS = env.int("PROACTIVE_MIN_INTERVAL_SECONDS", 60, min=1, max=YEAR)
PROACTIVE_MAX_INTERVAL_SECONDS = env.int("PROACTIVE_MAX_INTERVAL_SECONDS", 3600, min=1, max=YEAR)
at_most("PROACTIVE_MIN_CYCLE_TOKENS", PROACTIVE_MIN_CYCLE_TOKENS, "PROACTIVE_DAILY_TOKEN_LIMIT", PROACTIVE_DAILY_TOKEN_LIMIT,
        why="else no cycle ever runs")
at_most("AGENT_MAX_TOKENS", AGENT_MAX_TOKENS, "PROACTIVE_DAILY_TOKEN_LIMIT", PROACTIVE_DAILY_TOKEN_LIMIT,
        why="else no cycle ever fits the budget")
at_most("PROACTIVE_MIN_INTERVAL_SECONDS", PROACTIVE_MIN_INTERVAL_SECONDS,
        "PROACTIVE_MAX_INTERVAL_SECONDS", PROACTIVE_MAX_INTERVAL_SECONDS)
# Money (budget/pricing.py). USD per million tokens by model id prefix (matched by the longest
# prefix, then by family word: "opus", "sonnet", "haiku"); an unknown model is priced as the
# most expensive entry, so an estimate never undercounts. Cache writes default to 1.25x the
# input price, cache reads to 0.1x. MODEL_PRICES_JSON replaces or adds entries.
MODEL_PRICES = {
    "claude-opus": {"input": Decimal("15"), "output": Decimal("75")},
    "claude-sonnet": {"input": Decimal("3"), "output": Decimal("15")},
    "claude-haiku": {"input": Decimal("1"), "output": Decimal("5")},
    **env.model_prices("MODEL_PRICES_JSON"),
}
# Optional: proactive USD per UTC day, held by the same reservations as tokens; unset = no limit.
PROACTIVE_DAILY_COST_LIMIT_USD = env.decimal("PROACTIVE_DAILY_COST_LIMIT_USD", None, above=0, max=1_000_000,
                                             unit="of USD")
# Percentages of the day's proactive budget (tokens, and cost when limited) at which the Master is
# told, once each per UTC day; empty turns alerts off.
BUDGET_ALERT_THRESHOLDS = env.percent_list("BUDGET_ALERT_THRESHOLDS", [50, 80, 95])
# The proactive tick runs about once a minute (Django-Q2's scheduler looks every ~30 s, so
# ticks come 30-90 s apart). A cycle due within this many seconds is waited for by the tick
# that sees it, so it starts on time instead of at the next tick; 0 turns the wait off.
PROACTIVE_TICK_LOOKAHEAD_SECONDS = env.int("PROACTIVE_TICK_LOOKAHEAD_SECONDS", 90, min=0, max=300, unit="of seconds")

# --- Memory -----------------------------------------------------------------
# Once a UTC day, unpinned entries older than this many days are folded into a digest by
# one proactive-budget model call (decisions.consolidation) and archived; 0 turns it off.
MEMORY_CONSOLIDATE_AFTER_DAYS = env.int("MEMORY_CONSOLIDATE_AFTER_DAYS", 7, min=0, max=3650, unit="of days")
# At most this many entries are folded per day (the oldest first).
MEMORY_CONSOLIDATE_BATCH = env.int("MEMORY_CONSOLIDATE_BATCH", 50, min=2, max=500)

# --- Telegram ---------------------------------------------------------------
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
# What Telegram accepts as a webhook's secret_token.
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="", pattern=r"[A-Za-z0-9_-]{1,256}",
                                  expected="1 to 256 characters, each a letter, digit, _ or -")
# Telegram delivers webhooks only over HTTPS.
TELEGRAM_WEBHOOK_URL = env.url("TELEGRAM_WEBHOOK_URL", default="", schemes=("https",))
TELEGRAM_API_BASE_URL = env.url("TELEGRAM_API_BASE_URL", default="https://api.telegram.org/bot", schemes=HTTP)
# The outbox doubles it after a timeout, up to 60 s (telegrambot.bot_state).
TELEGRAM_REQUEST_TIMEOUT_SECONDS = env.float("TELEGRAM_REQUEST_TIMEOUT_SECONDS", 10.0, above=0, max=60, unit="of seconds")
# The outbox retries a transient failure (outage, timeout, 5xx, 429) until delivered or
# this old (then the row fails visibly); a permanent refusal fails at once.
NOTIFICATION_MAX_AGE_SECONDS = env.int("NOTIFICATION_MAX_AGE_SECONDS", 7 * DAY, min=1, max=YEAR, unit="of seconds")
MASTER_CHAT_IDS = env.int_list("MASTER_CHAT_IDS")  # empty by default: no built-in person
MESSAGE_HISTORY_LIMIT = env.int("MESSAGE_HISTORY_LIMIT", 30, min=1)
APPROVAL_TIMEOUT_SECONDS = env.int("APPROVAL_TIMEOUT_SECONDS", 3600, min=1, max=YEAR, unit="of seconds")
# The daily digest (done, spent, waiting on the Master) is created once, on migrate, at this
# UTC hour; -1 creates none. Once created it is the Master's schedule: disabling or deleting
# it sticks, and a later change of this hour does not move it (edit its cron instead).
DAILY_DIGEST_HOUR = env.int("DAILY_DIGEST_HOUR", 8, min=-1, max=23, unit="(UTC hour; -1: no daily digest)")
# One reminder to the Master when a pending approval has used this fraction of its time
# (0 turns reminders off; below 1).
APPROVAL_REMINDER_FRACTION = env.float("APPROVAL_REMINDER_FRACTION", 0.75, min=0, max=0.99)

# Every value listed here is scrubbed from log records (see agentsite.core.redaction).
SECRET_SETTING_NAMES = tuple(SECRET_VARIABLES.values())

# --- Django-Q2 --------------------------------------------------------------
# retry > timeout (else a slow task runs twice), finite attempts, no catch-up burst.
REDIS_URL = env.url("REDIS_URL", default="", schemes=("redis", "rediss", "unix"), host=False)
# A cycle makes at most two model calls (the decision and work_on_task's own), each ended by
# its hard deadline; a minute more for the cycle's own work, and the tick's wait for a cycle
# about to be due (PROACTIVE_TICK_LOOKAHEAD_SECONDS). The cycle lock
# (decisions.agent.cycle_lock_ttl) outlasts this timeout, so no live task outlives its lock.
Q_TASK_TIMEOUT_SECONDS = int(max(300, math.ceil(2 * AGENT_LLM_DEADLINE_SECONDS + 60 + PROACTIVE_TICK_LOOKAHEAD_SECONDS)))
Q_CLUSTER = {
    "name": "agentsite",
    "workers": env.int("Q_WORKERS", 2, min=1),
    "timeout": Q_TASK_TIMEOUT_SECONDS,
    "retry": Q_TASK_TIMEOUT_SECONDS + 120,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    # A worker process is replaced after this many tasks (a guard against leaks). Each new
    # process opens its own database connection and Telegram runtime, so not too often.
    "recycle": 10_000,
    "label": "Django-Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "agentsite.core.redaction.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The HTTP clients log request lines that may carry the bot token in the URL.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "telegram": {"level": "INFO"},
        # django-axes says "BEGIN version ..." at every start-up, commands included.
        "axes": {"level": "WARNING"},
    },
}
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "agentsite.api.exceptions.api_exception_handler"
