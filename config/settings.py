"""Settings, configured only by environment variables (README, "Configuration").

Defaults suit local work and tests: a SQLite file under var/. Production sets SECRET_KEY,
DEBUG=0, ALLOWED_HOSTS and DATABASE_URL (postgres://… means PostgreSQL via psycopg 3).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, str(default)).strip().lower()
    if value not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ImproperlyConfigured(
            f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}"
        )
    return value in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ImproperlyConfigured(f"{name} must be a number of 0 or more, got {value!r}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# Without DEBUG there is no default key. It stays empty, so that commands which sign nothing
# (makemigrations, migrate, load_seed) still run; Django refuses to sign anything with an
# empty key, the app servers refuse to start (config/startup.py) and `check --deploy` fails.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-local-development-key"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# HTTPS in production (`manage.py check --deploy` passes with these defaults). Behind a proxy
# that terminates TLS, set BEHIND_TLS_PROXY=1 so that X-Forwarded-Proto is believed.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    # The admin's home page, and its page frame (language switch, read-only notice): first,
    # so that its templates override the admin's own.
    "dashboard",
    # Django's admin on a site that allows only declared changelist filters.
    "config.admin_site.TrackerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served locally: the docs work offline
    "recommendations",
    "evidence",
    "tokens",
    # Spreadsheets of status updates, checked in a dry run and then recorded: it reads the
    # recommendations and evidence apps (never the reverse). Before the audit app, whose
    # migrate builds the roles once every tracked app's permissions exist.
    "intake",
    # The API's request counts per client (throttling.stores says where they live).
    "throttling",
    # Change counters kept by triggers: the cheap marker behind the API's ETags (304s).
    "freshness",
    # The audit trail (audit.registry lists what it records); django-auditlog writes it.
    "auditlog",
    "audit",
    # Lists as CSV and XLSX: after recommendations and evidence, whose admins it extends.
    "exports",
    # Proposed status updates and their review. After the apps whose permissions the role
    # groups hold: the groups are built once its own permissions exist (recommendations.roles).
    "review",
    # The outbox: an event per change, written in the change's transaction. It reads every
    # app above (their signals and API serializers); none of them reads it.
    "events",
    # Follows of measures, pillars and risks, and the digests of what changed in them: it
    # reads the outbox (events) and the recommendations app; none of them reads it.
    "follows",
    # Background work on Django's task framework (the backport of Django 6's django.tasks)
    # with its database backend: a queue in PostgreSQL (or SQLite), no extra server.
    "django_tasks",
    "config.apps.TasksDatabaseConfig",
    # Signed webhooks: subscriptions, a delivery per event planned in the event's transaction,
    # and the task that POSTs them. It reads the events app; none of the apps above reads it.
    "webhooks",
    # Failed sign-ins counted in the database, so that every app server locks out alike.
    "config.apps.AxesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files from each app server: no shared disk, no extra web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese or English, chosen by the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Changes made by a request are recorded with its user and channel (admin or API).
    "audit.services.RecordChanges",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Pages outside the API: null characters in a query are a 400, a busy database a 503.
    "config.middleware.PageGuards",
    # A Content-Security-Policy on every page that sets none of its own.
    "csp.middleware.CSPMiddleware",
    # Last: answers a locked-out sign-in with 429.
    "axes.middleware.AxesMiddleware",
]

# Scripts only from this origin, none inline, nothing fetched from elsewhere. Styles may be
# inline (the admin's and the report's); images may be data: URLs (Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The lockout backend first: a locked-out client is refused before its password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After LOGIN_FAILURE_LIMIT failed sign-ins for one username, or from one client address,
# both are refused for LOGIN_LOCKOUT_MINUTES (`manage.py axes_reset_username NAME` unlocks).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The client address as the throttles see it (TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "config.api.client_address"

ROOT_URLCONF = "config.urls"
# A refused form (no or a stale CSRF token) gets the site's error page, in the admin's look.
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# A SQLite file is the zero-set-up default; production and CI use PostgreSQL.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A connection that died with a database restart is replaced, not reused.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A write waiting on a row lock, or a runaway query, gives up with a clear 409/503
    # (config/api.py) instead of holding a worker. JIT compilation costs more than it saves
    # on the app's short, index-driven queries (bench/README.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 5000)} "
        f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 30000)} "
        "-c jit=off"
    )
    # The hottest write statements are prepared once per connection (config/db.py): explicit
    # preparation only; Django's own statements stay unprepared, as poolers need.
    DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
    if DB_PREPARED_STATEMENTS:
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
else:
    DB_PREPARED_STATEMENTS = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Wait for a concurrent writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def cache_from_url(url: str) -> dict:
    """CACHE_URL: db:// (a table in the database, shared by every app server; the default),
    redis://host:port/n, locmem:// (one process only) or dummy:// (no caching)."""
    if url in {"db", "db://"}:
        return {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url.startswith("locmem://"):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if url.startswith("dummy://"):
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(
        f"CACHE_URL must start with db://, redis://, locmem:// or dummy://, got {url!r}"
    )


# Throttling counts live here; app servers share them, so the cache must be shared too.
CACHES = {"default": cache_from_url(os.environ.get("CACHE_URL", "db://"))}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates shown as ISO 8601 (2026-09-30) in both languages (config/formats/).
FORMAT_MODULE_PATH = ["config.formats"]
# "Today", for the rule that an update may not take effect in the future, is a date here.
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# The REST API (README, "REST API").
API_ANONYMOUS_READ = env_bool("API_ANONYMOUS_READ")  # let anonymous clients read
# The schema (/api/schema/) and its docs (/api/docs/) are read as the API is, unless this
# opens them to anyone.
API_SCHEMA_PUBLIC = env_bool("API_SCHEMA_PUBLIC")
# How long a new API token lasts unless its creator says otherwise.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 365)
# A token's last use is written at most this often, so that reads do not all become writes.
API_TOKEN_LAST_USED_MINUTES = env_int("API_TOKEN_LAST_USED_MINUTES", 5)
API_BROWSABLE = env_bool("API_BROWSABLE", True)  # the HTML browsable API beside JSON
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
# What a report preview (/api/v1/reports/preview/) may cost a web request: the status updates
# it lists (HTML counts each five times, Markdown twice) and the bytes of its body. Larger
# previews are refused with a 400 and left to `manage.py status_report`.
# A year at dataset M (20,000 measures, 2,000,000 updates) lists about 70,000 changes in 80 MB
# of JSON: 3 s of app CPU, 3 s of database, 320 MB peak (bench/README.md, B4).
REPORT_PREVIEW_MAX_UPDATES = env_int("REPORT_PREVIEW_MAX_UPDATES", 100_000)
REPORT_PREVIEW_MAX_BYTES = env_int("REPORT_PREVIEW_MAX_BYTES", 128 * 1024 * 1024)
# On PostgreSQL a preview of a period holding more status updates than this is computed by
# `manage.py status_report` in a child process, stopped after REPORT_PREVIEW_CHILD_SECONDS
# (recommendations/reports/preview.py).
REPORT_PREVIEW_CHILD_ABOVE = env_int("REPORT_PREVIEW_CHILD_ABOVE", 100_000)
REPORT_PREVIEW_CHILD_SECONDS = env_int("REPORT_PREVIEW_CHILD_SECONDS", 25)
# The most figures one piece of evidence may state (evidence.services refuses more with a 400).
EVIDENCE_MAX_FIGURES = env_int("EVIDENCE_MAX_FIGURES", 100)
# The most rows one export (CSV or XLSX, from the admin or the API) holds; larger ones are
# refused with a message saying to narrow the list.
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 50_000)
# How long a POST's Idempotency-Key is remembered.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
# Review (README, "Review"): what the status-update POST asks whether a user's updates are
# proposed for review instead of recorded (an object with needs_review(user) and
# propose(request, measure_id)); empty, every update is recorded at once.
STATUS_UPDATE_REVIEW = "review.api.hook"
# Analysts' own status updates are proposals too, approved by another analyst.
REVIEW_ANALYST_UPDATES = env_bool("REVIEW_ANALYST_UPDATES")

# Background tasks (webhook deliveries, digests): queued in the database by default, run by
# `manage.py db_worker` (make run starts one; run as many as needed, on any machine sharing
# the database). TASKS_BACKEND names another backend of the task framework (RQ, Celery) for
# a deployment that outgrows the database queue.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "webhooks", "digests", "maintenance"],
    }
}

# Digests (README, "Follows and digests") go through Django's e-mail backend: SMTP when
# EMAIL_HOST is set, otherwise the console (the worker's standard output), which suits local
# work. EMAIL_BACKEND names any other backend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
if EMAIL_USE_SSL:
    EMAIL_USE_TLS = False  # implicit TLS (port 465) instead of STARTTLS; Django refuses both
# A server that does not answer fails the send (retried at the next run), never hangs a worker.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Policy tracker <tracker@localhost>")
# How many times one period's digest is tried when the mail server refuses it.
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 3)

# Where the API is reached from outside: the links inside event payloads (webhooks, digests)
# are built against it, not against whichever request caused the change.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Webhooks (README, "Webhooks"). Receivers on private, loopback, link-local, multicast or
# reserved addresses are refused, when a subscription is saved and again before each attempt,
# unless this allows them (tests; a receiver on the same private network).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS")
# Seconds to connect to a receiver, and to wait for each read of its answer.
WEBHOOK_CONNECT_TIMEOUT = env_float("WEBHOOK_CONNECT_TIMEOUT", 3)
WEBHOOK_READ_TIMEOUT = env_float("WEBHOOK_READ_TIMEOUT", 10)
# How long a worker holds the deliveries it claimed: one killed meanwhile loses them then, and
# they are attempted again. A worker starts no attempt it could not finish within its lease.
WEBHOOK_LEASE_SECONDS = env_float("WEBHOOK_LEASE_SECONDS", 60)
# Retries: the first after about WEBHOOK_RETRY_FIRST_SECONDS, each delay doubling (with
# jitter) up to WEBHOOK_RETRY_MAX_SECONDS, for WEBHOOK_RETRY_HOURS; then the delivery fails and
# its subscription is paused.
WEBHOOK_RETRY_FIRST_SECONDS = env_float("WEBHOOK_RETRY_FIRST_SECONDS", 10)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600)
WEBHOOK_RETRY_HOURS = env_float("WEBHOOK_RETRY_HOURS", 72)
# After a secret is rotated, the old one signs too for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env_float("WEBHOOK_SECRET_OVERLAP_HOURS", 24)
# Deliveries one claim takes, and how long one task runs before it hands over to the next.
WEBHOOK_BATCH = env_int("WEBHOOK_BATCH", 50)
WEBHOOK_RUN_SECONDS = env_float("WEBHOOK_RUN_SECONDS", 60)
# Pruning (README, "Webhooks", Pruning; `manage.py prune_webhooks`, and a task daily): delivered
# deliveries, with their attempts, are kept this many days after they were delivered; failed
# ones (which their owner may still redeliver once the receiver is fixed) this many days after
# their last schedule of retries began; finished background-task results this many days. Each
# batch of PRUNE_BATCH rows is deleted in a short transaction of its own.
WEBHOOK_KEEP_DAYS = env_int("WEBHOOK_KEEP_DAYS", 30)
WEBHOOK_KEEP_FAILED_DAYS = env_int("WEBHOOK_KEEP_FAILED_DAYS", 90)
TASK_RESULTS_KEEP_DAYS = env_int("TASK_RESULTS_KEEP_DAYS", 7)
PRUNE_BATCH = env_int("PRUNE_BATCH", 500)

# Spreadsheets of status updates (the intake app): the most rows one file may hold, and its
# largest size in bytes. Larger files are refused before anything is checked.
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 10_000)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 8 * 1024 * 1024)

REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.TrackerPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.StrictFilterBackend",
        "config.api.StrictSearchFilter",
        "config.api.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "config.api.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if API_BROWSABLE else []),
    ],
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "throttling.throttles.AnonRateThrottle",
        "throttling.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
    },
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Proxies in front of the app servers whose X-Forwarded-For is trusted; with none, a
    # client's own X-Forwarded-For cannot pick its throttling identity.
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Policy recommendation tracker API",
    "DESCRIPTION": (
        "Read and record how policy recommendations are implemented over time. Writes follow "
        "the same rules as the admin. Authenticate with `Authorization: Token <key>` "
        "(`manage.py create_api_token USERNAME`)."
    ),
    "VERSION": "1.0.0",
    # Relative: the schema is right wherever the app is served.
    "SERVERS": [{"url": "/", "description": "This server"}],
    "CONTACT": {"name": "Policy recommendation tracker maintainers"},
    # The project publishes no licence: the API's terms are its owner's.
    "LICENSE": {"name": "Proprietary: all rights reserved"},
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs views authenticate as the API does, and follow its read permission.
    "SERVE_PERMISSIONS": ["config.api.SchemaPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "recommendations.choices.Status",
        "InstitutionKindEnum": "recommendations.choices.InstitutionKind",
        "SourceKindEnum": "evidence.choices.SourceKind",
        "StanceEnum": "evidence.choices.Stance",
        # Confidence and priority share the values high, medium, low.
        "LevelEnum": "recommendations.choices.Confidence",
        # A status report's `report`: which report it is.
        "ReportKindEnum": ["status"],
        # Where a proposal stands, and what a decision on it did.
        "ProposalStateEnum": "review.choices.ProposalState",
        "DecisionEnum": "review.choices.DECIDED",
        # An import's `channel` (the audit trail's has `other` besides) and `state` (a
        # proposal has one too).
        "ImportChannelEnum": "intake.models.Import.Channel",
        "ImportStateEnum": "intake.models.Import.State",
        # What an import's valid rows become: recorded, or proposed for review.
        "ImportRouteEnum": "intake.models.Import.Route",
        # A webhook delivery's state, and the event types subscriptions name.
        "DeliveryStateEnum": "webhooks.choices.DeliveryState",
        "EventTypeEnum": "events.choices.EventType",
        # The language of a digest and of a webhook subscription's e-mail (zh, en).
        "LanguageEnum": "recommendations.choices.Language",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.postprocess",
    ],
}

# The audit trail (README, "Reliability"): django-auditlog writes audit.Change, with values
# as JSON (a missing value is null, not "None"). Restoring a backup (loaddata) is not a change.
AUDITLOG_LOGENTRY_MODEL = "audit.Change"
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_ON_RAW_SAVE = True
# auditlog's own LogEntry is swapped out: no table for it.
MIGRATION_MODULES = {"auditlog": None}

# Where `load_seed` reads the paper's data.
SEED_DIR = Path(os.environ.get("SEED_DIR", BASE_DIR / "fixtures"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
