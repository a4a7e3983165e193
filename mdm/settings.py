"""Settings, all from the environment (12-factor). docs/settings.md lists every variable.

Two modes, chosen by `MDM_MODE`:
- `development` (default): anything missing gets a safe local default. SQLite and a secret
  key and KEK generated once under `var/`, a Celery broker on the filesystem: `make run` needs
  no external service.
- `production`: refuses to start unless every secret and address is given for real.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from mdm.lib.envsecret import decode_kek, env_secret, generated_secret_file, new_kek, new_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

MDM_MODE = env.str("MDM_MODE", default="development")
if MDM_MODE not in {"development", "production"}:
    raise ImproperlyConfigured(f"MDM_MODE must be 'development' or 'production', not {MDM_MODE!r}.")
PRODUCTION = MDM_MODE == "production"

VAR_DIR = Path(env.str("MDM_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

# --- Required values in production ------------------------------------------------------------

_missing: list[str] = []


def _require(name: str, value):
    if PRODUCTION and not value:
        _missing.append(name)
    return value


SECRET_KEY = _require("SECRET_KEY (or SECRET_KEY_FILE)", env_secret("SECRET_KEY"))
_kek_text = _require("MDM_KEK (or MDM_KEK_FILE)", env_secret("MDM_KEK"))
ALLOWED_HOSTS = _require("ALLOWED_HOSTS", env.list("ALLOWED_HOSTS", default=[]))
MDM_ISSUER = _require("MDM_ISSUER", env.str("MDM_ISSUER", default=""))
_database_url = _require("DATABASE_URL", env.str("DATABASE_URL", default=""))
REDIS_URL = _require("REDIS_URL", env.str("REDIS_URL", default=""))
if _missing:
    raise ImproperlyConfigured(
        "MDM_MODE=production refuses to start without real values for: "
        + ", ".join(_missing)
        + ". See docs/settings.md."
    )
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production.")
if PRODUCTION and not MDM_ISSUER.startswith("https://"):
    raise ImproperlyConfigured("MDM_ISSUER must be an https:// URL in production.")

# --- Development defaults (production has refused to start by now if any is missing) ------------

HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
if not SECRET_KEY:
    SECRET_KEY = generated_secret_file(VAR_DIR / "secret_key", new_secret_key)
if not _kek_text:
    _kek_text = generated_secret_file(VAR_DIR / "kek", new_kek)
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", HOST]
if not MDM_ISSUER:
    _LOCAL_BINDS = {"127.0.0.1", "0.0.0.0"}  # noqa: S104 (only picks the name to show)
    MDM_ISSUER = f"http://{'localhost' if HOST in _LOCAL_BINDS else HOST}:{PORT}"
MDM_ISSUER = MDM_ISSUER.rstrip("/")

# The current key-encryption key and, during a rotation, the previous ones (still able to unwrap).
MDM_KEK = decode_kek(_kek_text, source="MDM_KEK")
MDM_KEK_PREVIOUS = [
    decode_kek(value, source="MDM_KEK_PREVIOUS")
    for value in (env_secret("MDM_KEK_PREVIOUS") or "").replace(",", " ").split()
]

DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG cannot be on in production mode.")

# --- Applications ---------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mozilla_django_oidc",
    "mdm",
    "personas",
    "devices",
    "directory",
    "events",
]

MIDDLEWARE = [
    # First: the agent API takes the lean path (mdm/leanpath.py), with LEAN_PATH_MIDDLEWARE only.
    "mdm.leanpath.LeanPathMiddleware",
    # Probes from inside the network use the container's address as Host, and plain HTTP.
    "mdm.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mdm.middleware.SecurityHeadersMiddleware",
    # Before any view or query: NUL in a query string refused, chunked bodies read with the limit.
    "mdm.middleware.RequestInputMiddleware",
    "mdm.middleware.ProblemJsonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Bearer-token APIs that need no session, CSRF, messages or user: LEAN_PATH_MIDDLEWARE, the part
# of MIDDLEWARE that applies to them and does no I/O, runs in-line, in MIDDLEWARE's order.
LEAN_PATH_PREFIXES = ("/api/v1/agent/", "/scim/v2/")
LEAN_PATH_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mdm.middleware.SecurityHeadersMiddleware",
    "mdm.middleware.RequestInputMiddleware",
    "mdm.middleware.ProblemJsonMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Overridable for the benchmarks only (bench/urls.py adds a baseline view).
ROOT_URLCONF = env.str("MDM_ROOT_URLCONF", default="mdm.urls")
ASGI_APPLICATION = "mdm.asgi.application"
WSGI_APPLICATION = "mdm.wsgi.application"
AUTH_USER_MODEL = "mdm.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "mdm.console.context_processors.console",
                "events.context_processors.destinations_failing",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------------------

if _database_url:
    DATABASES = {"default": env.db_url_config(_database_url)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "mdm.sqlite3")}}

_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if PRODUCTION:
        raise ImproperlyConfigured("Production mode needs PostgreSQL (DATABASE_URL=postgres://...), not SQLite.")
    # Web, worker and beat share one file: WAL lets readers and a writer proceed together, and
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif env.bool("MDM_DB_POOL", default=False):
    # The web server (mdm/gunicorn_conf.py turns this on): a pool per process, so a request
    # borrows an open connection for the time it needs one and a waiting long poll holds none.
    # max_size bounds what one process holds; a request that waits DB_POOL_TIMEOUT seconds for a
    # connection is answered 503 with Retry-After (mdm.middleware), never 500.
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
        "max_idle": 300,
    }
    _db["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django gives each back after use
else:
    # Celery's processes and management commands: one connection at a time per process, closed
    # after each task or command unless asked for.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    _db["CONN_HEALTH_CHECKS"] = True

# The cache may live in another Redis database than the broker (the tests clear it between tests).
REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default=REDIS_URL)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache with one client per process (not one per request under ASGI).
            "BACKEND": "mdm.lib.cache_backend.SharedRedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": "mdm",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Shared by the web, worker and beat processes of `make run`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery (mdm/celery.py reads every CELERY_* setting) -------------------------------------------

# Longest time a task may run; the broker's visibility timeout must exceed it, or Redis would hand
# a still-running (acks_late) task to a second worker.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("Need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT.")

# The broker may be another server than Redis (RabbitMQ: amqp://...); by default it is REDIS_URL.
_broker_url = env.str("CELERY_BROKER_URL", default="")
if _broker_url:
    CELERY_BROKER_URL = _broker_url
    if _broker_url.startswith(("redis://", "rediss://")):
        CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
elif REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    CELERY_BROKER_URL = "filesystem://localhost/"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Tasks are idempotent (see mdm/celery.py): acknowledge only after they ran, and hand a task back
# to the queue when the worker running it dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=2)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule"))

# A push's task renews its lease with every batch. A push whose lease has run out lost its
# worker; the beat hands it to a new task every MDM_PUSH_RESUME_SECONDS: a push whose worker died
# resumes within the sum of the two (35 s by default).
MDM_PUSH_LEASE_SECONDS = env.int("MDM_PUSH_LEASE_SECONDS", default=20)
MDM_PUSH_RESUME_SECONDS = env.int("MDM_PUSH_RESUME_SECONDS", default=15)
if MDM_PUSH_LEASE_SECONDS < 5 or MDM_PUSH_RESUME_SECONDS < 1:
    raise ImproperlyConfigured("Need MDM_PUSH_LEASE_SECONDS >= 5 and MDM_PUSH_RESUME_SECONDS >= 1.")

# SIEM destinations (events app, docs/events.md). Delivery retries with exponential backoff from
# BACKOFF_BASE seconds, doubled per failure up to BACKOFF_MAX, with jitter; a destination failing for
# FAILING_AFTER seconds is marked failing (banner, e-mail to the owners) and its events keep waiting.
MDM_EVENTS_DISPATCH_SECONDS = env.float("MDM_EVENTS_DISPATCH_SECONDS", default=5.0)
MDM_EVENTS_BATCH_SIZE = env.int("MDM_EVENTS_BATCH_SIZE", default=100)
MDM_EVENTS_LEASE_SECONDS = env.int("MDM_EVENTS_LEASE_SECONDS", default=60)
MDM_EVENTS_RUN_SECONDS = env.int("MDM_EVENTS_RUN_SECONDS", default=30)
MDM_EVENTS_BACKOFF_BASE_SECONDS = env.float("MDM_EVENTS_BACKOFF_BASE_SECONDS", default=5.0)
MDM_EVENTS_BACKOFF_MAX_SECONDS = env.float("MDM_EVENTS_BACKOFF_MAX_SECONDS", default=900.0)
MDM_EVENTS_FAILING_AFTER_SECONDS = env.int("MDM_EVENTS_FAILING_AFTER_SECONDS", default=24 * 3600)
MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS = env.float("MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Outbox rows older than this that every destination of their organization has passed are pruned;
# a replay reaches back as far as this. Delivery-log rows are pruned after LOG_DAYS.
MDM_EVENTS_RETENTION_DAYS = env.int("MDM_EVENTS_RETENTION_DAYS", default=30)
MDM_EVENTS_LOG_DAYS = env.int("MDM_EVENTS_LOG_DAYS", default=14)
# Kick a dispatch after each commit that wrote events (debounced to once a second).
MDM_EVENTS_KICK = env.bool("MDM_EVENTS_KICK", default=True)
# Webhook URLs that resolve to private, loopback or link-local addresses are refused (SSRF) unless
# this is on: by default in development, where the receiver is often on the same machine.
MDM_EVENTS_ALLOW_PRIVATE_URLS = env.bool("MDM_EVENTS_ALLOW_PRIVATE_URLS", default=not PRODUCTION)
if MDM_EVENTS_LEASE_SECONDS <= MDM_EVENTS_RUN_SECONDS:
    raise ImproperlyConfigured("Need MDM_EVENTS_LEASE_SECONDS > MDM_EVENTS_RUN_SECONDS.")

# Every periodic task, in one place.
CELERY_BEAT_SCHEDULE = {
    "audit-chains-verify": {
        "task": "mdm.tasks.audit_chains_verify_task",
        "schedule": crontab(hour=3, minute=17),
    },
    "used-assertions-purge": {
        "task": "devices.tasks.used_assertions_purge_task",
        "schedule": crontab(minute=7),
    },
    "enforcement-apply": {"task": "devices.tasks.enforcement_apply_task", "schedule": crontab(minute="*/15")},
    "pushes-resume": {
        "task": "devices.tasks.pushes_resume_task",
        "schedule": float(MDM_PUSH_RESUME_SECONDS),
        # A run still queued when the next is due is useless: the next one does the same.
        "options": {"expires": MDM_PUSH_RESUME_SECONDS},
    },
    "commands-expire": {"task": "devices.tasks.commands_expire_task", "schedule": crontab(minute="*/5")},
    "commands-rewake": {"task": "devices.tasks.commands_rewake_task", "schedule": 60.0},
    "container-keys-rotate": {"task": "devices.tasks.container_keys_rotate_task", "schedule": crontab(minute=23)},
    # The dashboard's compliance over time, one point a day: every hour updates the day's row, so
    # the day keeps its last hour's numbers and a beat down at midnight loses no day.
    "compliance-snapshots-take": {
        "task": "devices.tasks.compliance_snapshots_take_task",
        "schedule": crontab(minute=55),
    },
    "devices-mark-silent": {"task": "devices.tasks.devices_mark_silent_task", "schedule": crontab(minute="*/10")},
    "android-devices-reconcile": {
        "task": "devices.tasks.android_devices_reconcile_task",
        "schedule": crontab(minute="*/30"),
    },
    "android-operations-follow": {"task": "devices.tasks.android_operations_follow_task", "schedule": 60.0},
    "events-dispatch": {
        "task": "events.tasks.events_dispatch_task",
        "schedule": MDM_EVENTS_DISPATCH_SECONDS,
        "options": {"expires": MDM_EVENTS_DISPATCH_SECONDS},
    },
    "events-prune": {"task": "events.tasks.events_prune_task", "schedule": crontab(hour=4, minute=41)},
    "enrollment-tokens-forget-expired": {
        "task": "devices.tasks.enrollment_tokens_forget_expired_task",
        "schedule": crontab(minute="*/15"),
    },
}

# --- Auth, sessions, security ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
MDM_LOGIN_MAX_FAILURES = env.int("MDM_LOGIN_MAX_FAILURES", default=5)
MDM_LOGIN_LOCKOUT_MINUTES = env.int("MDM_LOGIN_LOCKOUT_MINUTES", default=15)
# Single sign-on through OpenID Connect (mozilla-django-oidc), for the portal and the console,
# when OIDC_RP_CLIENT_ID is set. Accounts are matched by e-mail, then bound to the provider's (iss, sub)
# at their first sign-in (mdm/oidc.py); none is created by a sign-in.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_RP_CLIENT_SECRET") or ""
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_RP_SCOPES = "openid email"
OIDC_CREATE_USER = False
OIDC_USE_NONCE = True
LOGIN_REDIRECT_URL_FAILURE = "/portal/login/"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if OIDC_RP_CLIENT_ID:
    if not OIDC_OP_ISSUER:
        raise ImproperlyConfigured("Single sign-on needs OIDC_OP_ISSUER: ID tokens from any other issuer are refused.")
    AUTHENTICATION_BACKENDS.append("mdm.oidc.EmailOIDCBackend")

# Development writes each message to var/mail/ (mdm/mail.py) and names it in the log.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "mdm.mail.DevelopmentEmailBackend",
)
MDM_MAIL_DIR = env.str("MDM_MAIL_DIR", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="mdm@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
PASSWORD_RESET_TIMEOUT = env.int("MDM_INVITATION_SECONDS", default=3 * 24 * 3600)
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[MDM_ISSUER])

if env.bool("MDM_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of us append to X-Forwarded-For; 0 trusts none of it.
MDM_TRUSTED_PROXY_COUNT = env.int("MDM_TRUSTED_PROXY_COUNT", default=0)

# /metrics (Prometheus): scraped with its own bearer token, or from an allowed network (the
# address as client_ip() sees it, so MDM_TRUSTED_PROXY_COUNT applies). Only the token's SHA-256 is
# kept in memory. Loopback by default; an empty list allows only the token.
_metrics_token = env_secret("MDM_METRICS_TOKEN") or ""
if _metrics_token and len(_metrics_token) < 24:
    raise ImproperlyConfigured("MDM_METRICS_TOKEN must be at least 24 characters.")
MDM_METRICS_TOKEN_SHA256 = hashlib.sha256(_metrics_token.encode()).hexdigest() if _metrics_token else ""
del _metrics_token
try:
    MDM_METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(network.strip(), strict=False)
        for network in env.list("MDM_METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
        if network.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"MDM_METRICS_ALLOWED_NETWORKS: {exc}") from exc

# --- Static files ---------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serve straight from the apps' folders when nobody ran collectstatic (tests, a first `make run`).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API ---------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mdm.api.authentication.ApiTokenAuthentication",
        "mdm.api.authentication.ConsoleSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mdm.api.parsers.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "mdm.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mdm.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dual-persona MDM API",
    "DESCRIPTION": "The admin API (/api/v1/) and the device agent protocol (/api/v1/agent/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SharingDecisionEnum": "personas.choices.Decision",
        "ManagementChannelEnum": "devices.choices.ManagementChannel",
        "DestinationKindEnum": "events.choices.DestinationKind",
        "DestinationStateEnum": "events.choices.DestinationState",
        "ReplayStateEnum": "events.choices.ReplayState",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mdm.api.schema.add_problem_responses",
    ],
}
# Largest request body the server reads (the agent protocol's 64 KiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# --- Agent protocol ---------------------------------------------------------------------------------

MDM_POLL_INTERVAL_SECONDS = env.int("MDM_POLL_INTERVAL_SECONDS", default=900)
MDM_ACCESS_TOKEN_SECONDS = 900
# Fixed-window limits: name -> (requests, window in seconds).
# Long polls one web process holds at once (each is a socket: keep under its file limit); past
# that, a poll is answered 503 with Retry-After.
MDM_LONGPOLL_MAX_WAITERS = env.int("MDM_LONGPOLL_MAX_WAITERS", default=10_000)
MDM_RATE_LIMITS = {
    "enroll_ip": (env.int("MDM_RATE_ENROLL_PER_IP", default=30), 60),
    "token_ip": (env.int("MDM_RATE_TOKEN_PER_IP", default=120), 60),
    "token_device": (env.int("MDM_RATE_TOKEN_PER_DEVICE", default=20), 60),
    "agent_device": (env.int("MDM_RATE_AGENT_PER_DEVICE", default=240), 60),
}
# Policy pushes: devices per batch (one transaction each), and an optional pause between batches
# to spread a large push's load on the database.
MDM_PUSH_BATCH_SIZE = env.int("MDM_PUSH_BATCH_SIZE", default=500)
MDM_PUSH_BATCH_PAUSE_SECONDS = env.float("MDM_PUSH_BATCH_PAUSE_SECONDS", default=0.0)
if not MDM_PUSH_BATCH_PAUSE_SECONDS * 2 < MDM_PUSH_LEASE_SECONDS:
    # The lease is renewed once a batch: the pause must leave time for the batch itself.
    raise ImproperlyConfigured("Need MDM_PUSH_BATCH_PAUSE_SECONDS < MDM_PUSH_LEASE_SECONDS / 2.")
# --- Android Enterprise (Google's Android Management API) -----------------------------------------
# Off unless a service account key and a Google Cloud project are given (docs/android.md). The key
# is a file (Google's JSON key), read here so that a wrong path stops the server at once.
_android_key_path = env.str("MDM_ANDROID_SERVICE_ACCOUNT_FILE", default="")
MDM_ANDROID_SERVICE_ACCOUNT: dict | None = None
if _android_key_path:
    import json as _json

    try:
        MDM_ANDROID_SERVICE_ACCOUNT = _json.loads(Path(_android_key_path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImproperlyConfigured(
            f"MDM_ANDROID_SERVICE_ACCOUNT_FILE={_android_key_path} cannot be read: {exc.strerror}"
        ) from exc
    except ValueError as exc:
        raise ImproperlyConfigured(f"MDM_ANDROID_SERVICE_ACCOUNT_FILE={_android_key_path} is not JSON: {exc}") from exc
    if (
        not isinstance(MDM_ANDROID_SERVICE_ACCOUNT, dict)
        or MDM_ANDROID_SERVICE_ACCOUNT.get("type") != "service_account"
    ):
        raise ImproperlyConfigured(
            f"MDM_ANDROID_SERVICE_ACCOUNT_FILE={_android_key_path} is not a service account key."
        )
MDM_ANDROID_PROJECT_ID = env.str("MDM_ANDROID_PROJECT_ID", default="")
# The Pub/Sub topic Google publishes device notifications to (projects/P/topics/T), the push
# subscription's audience (default: the push endpoint's URL) and its service account's e-mail.
MDM_ANDROID_PUBSUB_TOPIC = env.str("MDM_ANDROID_PUBSUB_TOPIC", default="")
MDM_ANDROID_PUBSUB_AUDIENCE = env.str(
    "MDM_ANDROID_PUBSUB_AUDIENCE", default=f"{MDM_ISSUER.rstrip('/')}/android/pubsub/" if MDM_ISSUER else ""
)
MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT = env.str("MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT", default="")
# Overrides for the tests' stand-in of Google (never needed in production).
MDM_ANDROID_API_ROOT_URL = env.str("MDM_ANDROID_API_ROOT_URL", default="")
MDM_ANDROID_CERTS_URL = env.str("MDM_ANDROID_CERTS_URL", default="https://www.googleapis.com/oauth2/v1/certs")
# Seconds to wait for Google on one call.
MDM_ANDROID_TIMEOUT_SECONDS = env.int("MDM_ANDROID_TIMEOUT_SECONDS", default=30)

# Mass-wipe protection: past this many wipes in this many minutes in one organization, further
# wipes are held until a second admin approves them.
MDM_MASS_WIPE_THRESHOLD = env.int("MDM_MASS_WIPE_THRESHOLD", default=10)
MDM_MASS_WIPE_WINDOW_MINUTES = env.int("MDM_MASS_WIPE_WINDOW_MINUTES", default=20)
# A device that has not checked in for this long is flagged silent.
MDM_SILENT_AFTER_HOURS = env.int("MDM_SILENT_AFTER_HOURS", default=72)
# A check-in that changes nothing writes `last_seen_at` at most this often.
MDM_LAST_SEEN_WRITE_SECONDS = 60

# --- Logging ----------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
