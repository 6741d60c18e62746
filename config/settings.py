"""Strongroom settings: one env-driven module (see .env.example for every variable).

Embedded default (no DATABASE_URL / REDIS_URL): SQLite, a file-based cache and Celery's
filesystem transport under ``STRONGROOM_DATA_DIR`` (``./var``). Production: PostgreSQL, Redis.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import dj_database_url

from config.env import SettingError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded default keeps its data: SQLite database, generated keys, Celery's filesystem
# broker and beat schedule, mail files, the audit anchor.
DATA_DIR = Path(env_str("STRONGROOM_DATA_DIR", str(BASE_DIR / "var")) or "var").resolve()


def _data_file_secret(filename: str, nbytes: int = 48) -> str:
    """Read (or create once, mode 0600) a generated secret in the data directory."""
    path = DATA_DIR / filename
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(nbytes)
    with open(path, "x", opener=lambda p, f: __import__("os").open(p, f, 0o600)) as handle:
        handle.write(value)
    return value


# Django's debug mode: never in production.
DEBUG = env_bool("STRONGROOM_DEBUG", False)
# Django's signing key (sessions, CSRF); changing it signs everyone out.
SECRET_KEY = env_str("STRONGROOM_SECRET_KEY") or _data_file_secret("django-secret.key")
# Comma-separated host names this server answers to.
ALLOWED_HOSTS = env_list("STRONGROOM_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Comma-separated origins (scheme://host[:port]) trusted for CSRF, e.g. https://secrets.example.com.
CSRF_TRUSTED_ORIGINS = env_list("STRONGROOM_CSRF_TRUSTED_ORIGINS", [])
# The public URL, used in links the server sends (e-mails, approval notifications).
SITE_URL = env_str("STRONGROOM_SITE_URL", "http://127.0.0.1:8000") or ""
# Requests are only believed to come from X-Forwarded-For when the direct peer is one of these.
TRUSTED_PROXIES = env_list("STRONGROOM_TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files (CSP: script-src 'self', no CDN)
    "django_htmx",
    "template_partials",
    "js_lib_htmx",
    "audit",
    "audit.streams.apps.AuditStreamsConfig",
    "secrets_app",
    "syncs",
    "notifications",
    "approvals",
    "dynamic",
    "rotation",
    "governance",  # the governance dashboard, quarantine, parity, least privilege, pipeline gate
    "estate",  # Azure DevOps estate discovery, findings and guided import (docs/ado-migration.md)
    "access_cache",  # the access epoch: per-process caches of who may read what (docs/performance.md)
    "axes",  # people's login lockout (secrets_app/person_lockout.py)
    "observability",  # /metrics and JSON log lines (docs/metrics.md)
]

MIDDLEWARE = [
    # First, so request latency includes every other middleware (docs/metrics.md).
    "observability.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "secrets_app.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "secrets_app.sessions.SessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "secrets_app.middleware.SecurityHeadersMiddleware",
    "secrets_app.middleware.SealedMiddleware",
    # A UI write held by a change policy becomes a banner (htmx) or a redirect to its review page.
    "secrets_app.held_writes.HeldWriteMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
    }
]

# Unset: SQLite in the data directory. Production: PostgreSQL, as the app role (web, worker, beat)
# or the owner role (migrate, db_roles); docs/operations.md, "Database roles".
DATABASE_URL = env_str("DATABASE_URL")
# Under gunicorn's gevent worker (config/gunicorn.py) each request runs in a greenlet of its own and
# Django's connections are per greenlet: a kept connection would outlive its greenlet unused, one
# idle PostgreSQL connection per request served. There each request borrows one from a pool instead.
_GEVENT_WORKER = "gevent.monkey" in sys.modules and sys.modules["gevent.monkey"].is_module_patched("socket")
# Seconds a PostgreSQL connection is kept between requests (0 under gevent: pooled instead).
DB_CONN_MAX_AGE = env_int("STRONGROOM_DB_CONN_MAX_AGE", 0 if _GEVENT_WORKER else 60)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with pooled connections checked without a round trip (config/postgresql).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    if _GEVENT_WORKER and DB_CONN_MAX_AGE == 0:
        # One worker serves up to STRONGROOM_WEB_CONNECTIONS requests at once: they share a bounded
        # pool (a request waits up to 2 s for a connection, then 503) instead of each opening one
        # and exhausting PostgreSQL's max_connections for the worker and beat too.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("STRONGROOM_DB_POOL_SIZE", 10),
            "timeout": 2,
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "strongroom.sqlite3",
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset: the file cache and Celery's filesystem broker in the data directory. Production: Redis
# (cache, Celery broker, rate-limit and lockout counters).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# Django's default list with PBKDF2 (the one used for new hashes) computed off the gevent hub, so a
# sign-in attempt does not stall its web worker for 0.2 s (secrets_app/passwords.py).
PASSWORD_HASHERS = [
    "secrets_app.passwords.OffHubPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "governance:home"
# --- People's sessions and login lockout (docs/operations.md, "Sessions and sign-in") ------
# Served over https (STRONGROOM_SITE_URL is https://…, or STRONGROOM_HTTPS=true): Secure cookies
# with __Host- names and HSTS. Plain http (`make run` on http://127.0.0.1) keeps the plain names,
# because browsers refuse Secure and __Host- cookies set over http.
SERVED_OVER_HTTPS = env_bool("STRONGROOM_HTTPS", SITE_URL.startswith("https://"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Absolute lifetime of a session from its login; STRONGROOM_SESSION_IDLE_SECONDS ends it sooner when
# unused. Both are enforced server-side by secrets_app.sessions.SessionTimeoutMiddleware.
SESSION_COOKIE_AGE = env_int("STRONGROOM_SESSION_SECONDS", 8 * 3600)
STRONGROOM_SESSION_IDLE_SECONDS = env_int("STRONGROOM_SESSION_IDLE_SECONDS", 30 * 60)
# A session signed in through the organization's identity provider goes back through it this often
# (silent while the directory still accepts the person); 0 turns it off.
STRONGROOM_SSO_REVALIDATE_SECONDS = env_int("STRONGROOM_SSO_REVALIDATE_SECONDS", 60 * 60)
# Send session and CSRF cookies over HTTPS only.
SESSION_COOKIE_SECURE = env_bool("STRONGROOM_SECURE_COOKIES", SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    # __Host-: Secure, Path=/, no Domain, so no sibling host can plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Added by SecurityHeadersMiddleware to every response when served over https (also behind a TLS
# proxy; browsers ignore the header on plain http).
SECURE_HSTS_SECONDS = env_int("STRONGROOM_HSTS_SECONDS", 365 * 24 * 3600) if SERVED_OVER_HTTPS else 0

# Lockout (django-axes with our handler): N failed passwords or TOTP codes on one account, from any
# address, lock it for STRONGROOM_LOGIN_LOCKOUT_SECONDS; so do N_IP failures from one client address.
# Failures older than ..._RESET_SECONDS are forgotten. If the lockout store (the cache) cannot be
# reached, people's logins are refused (503).
STRONGROOM_LOGIN_LOCKOUT_THRESHOLD = env_int("STRONGROOM_LOGIN_LOCKOUT_THRESHOLD", 5)
STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD = env_int("STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD", 20)
STRONGROOM_LOGIN_LOCKOUT_SECONDS = env_int("STRONGROOM_LOGIN_LOCKOUT_SECONDS", 900)
STRONGROOM_LOGIN_LOCKOUT_RESET_SECONDS = env_int("STRONGROOM_LOGIN_LOCKOUT_RESET_SECONDS", 900)
AUTHENTICATION_BACKENDS = [
    # django-axes' AxesStandaloneBackend: refuses a locked login before any password is checked.
    "secrets_app.person_lockout.PersonLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "secrets_app.person_lockout.PersonLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # what the handler counts (each its own threshold)
AXES_USERNAME_CALLABLE = "secrets_app.person_lockout.username_from_credentials"
AXES_CLIENT_IP_CALLABLE = "secrets_app.middleware.client_ip"  # X-Forwarded-For only from trusted proxies
AXES_FAILURE_LIMIT = STRONGROOM_LOGIN_LOCKOUT_THRESHOLD
AXES_COOLOFF_TIME = __import__("datetime").timedelta(seconds=STRONGROOM_LOGIN_LOCKOUT_SECONDS)
# Attempts during a lock are refused without extending it, so a lock ends on time.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False
# The login views render the lockout themselves (same page, 429): AxesMiddleware is not used.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Request bodies above this are refused before they are parsed (a secret value is capped at 1 MiB):
# 413 from config/request_body.py without reading the body. A body must also arrive within
# STRONGROOM_REQUEST_BODY_TIMEOUT seconds (408), so a trickling client cannot hold the server.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("STRONGROOM_MAX_REQUEST_BYTES", 8 * 1024 * 1024)
STRONGROOM_REQUEST_BODY_TIMEOUT = env_int("STRONGROOM_REQUEST_BODY_TIMEOUT", 30)

# --- Encryption -----------------------------------------------------------------------------
# The root key is 32 random bytes, base64. The embedded default keeps it in DATA_DIR/root.key
# (created by `manage.py bootstrap`, mode 0600). Without a usable root key the server is sealed.
# STRONGROOM_ROOT_KEY (or STRONGROOM_ROOT_KEY_FILE) wins; the data-dir file is the embedded default.
STRONGROOM_ROOT_KEY = env_str("STRONGROOM_ROOT_KEY")
STRONGROOM_EMBEDDED_ROOT_KEY_PATH = DATA_DIR / "root.key"
# How many unwrapped project data keys each process keeps in memory.
STRONGROOM_DATA_KEY_CACHE_SIZE = env_int("STRONGROOM_DATA_KEY_CACHE_SIZE", 1024)
# Rotate a project's data key well before 2^32 random-nonce GCM encryptions (NIST SP 800-38D).
STRONGROOM_DATA_KEY_MAX_ENCRYPTIONS = env_int("STRONGROOM_DATA_KEY_MAX_ENCRYPTIONS", 2**30)
# Secret versions moved to a new data key per transaction of the background re-encryption.
STRONGROOM_DATA_KEY_REENCRYPT_BATCH = env_int("STRONGROOM_DATA_KEY_REENCRYPT_BATCH", 500)
# Largest secret value accepted, in bytes.
STRONGROOM_MAX_SECRET_BYTES = env_int("STRONGROOM_MAX_SECRET_BYTES", 1024 * 1024)
STRONGROOM_REFERENCE_DEPTH = 10
# Rows younger than this wait for the next sealing pass (beat: every 5 s). Until sealed a row is
# protected by the app role's grants only, so keep this short (docs/audit.md, "The unsealed window").
STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = env_int("STRONGROOM_AUDIT_SEAL_DELAY_SECONDS", 10)
# Retention of events that belong to no organization (the instance chain); organizations have their
# own setting (Organization.audit_retention_days). manage.py audit_purge applies both.
STRONGROOM_AUDIT_RETENTION_DAYS = env_int("STRONGROOM_AUDIT_RETENTION_DAYS", 365)
# The sealer appends each newest block hash here, outside the database; audit_verify checks it.
STRONGROOM_AUDIT_ANCHOR_PATH = Path(
    env_str("STRONGROOM_AUDIT_ANCHOR_PATH") or str(DATA_DIR / "audit-anchor.jsonl")
).resolve()
# Machine logins (native and compat routes) per client IP and route per minute (Infisical: 25).
STRONGROOM_LOGIN_RATE_PER_MINUTE = env_int("STRONGROOM_LOGIN_RATE_PER_MINUTE", 25)
# Pipeline gate calls (the Azure DevOps check) per gate and client IP per minute (docs/governance.md).
STRONGROOM_GATE_RATE_PER_MINUTE = env_int("STRONGROOM_GATE_RATE_PER_MINUTE", 120)
# Token- and session-authenticated API requests (/api/v1, /compat/infisical) per person or machine
# identity per minute, reads (GET/HEAD/OPTIONS) and writes counted apart: 429 with Retry-After beyond
# them, 503 if the store below is down (secrets_app/ratelimit.py). 0 turns a limit off.
STRONGROOM_API_READ_RATE_PER_MINUTE = env_int("STRONGROOM_API_READ_RATE_PER_MINUTE", 600)
STRONGROOM_API_WRITE_RATE_PER_MINUTE = env_int("STRONGROOM_API_WRITE_RATE_PER_MINUTE", 120)
# Repeats of the same denial within this many seconds are counted (in the cache below) and summarised
# as one permission.denied_repeated event instead of one row each; 0 writes every denial
# (docs/audit.md, "Noise").
STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS = env_int("STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS", 60)
STRONGROOM_AUDIT_DENIAL_CACHE = "default"
# Audit streams (docs/audit-streams.md, "Delivery"): after a failed attempt a stream waits a random
# time up to BACKOFF * 2^(failures-1), at most BACKOFF_MAX (a longer Retry-After wins, up to
# RETRY_AFTER_MAX). A run holds its stream for LEASE seconds (extended before each send, so keep it
# above STRONGROOM_AUDIT_STREAM_TIMEOUT; a killed worker's stream is picked up again after it),
# sends at most BATCHES_PER_RUN batches before queueing its successor, and at most BATCH_MAX_EVENTS
# events per batch (0: the kind's own limit).
STRONGROOM_AUDIT_STREAM_TIMEOUT = env_int("STRONGROOM_AUDIT_STREAM_TIMEOUT", 30)  # per connect/read of one send
STRONGROOM_AUDIT_STREAM_BACKOFF_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_BACKOFF_SECONDS", 5)
STRONGROOM_AUDIT_STREAM_BACKOFF_MAX_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_BACKOFF_MAX_SECONDS", 600)
STRONGROOM_AUDIT_STREAM_RETRY_AFTER_MAX_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_RETRY_AFTER_MAX_SECONDS", 3600)
STRONGROOM_AUDIT_STREAM_LEASE_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_LEASE_SECONDS", 120)
STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN = env_int("STRONGROOM_AUDIT_STREAM_BATCHES_PER_RUN", 50)
STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS = env_int("STRONGROOM_AUDIT_STREAM_BATCH_MAX_EVENTS", 0)
# How often beat looks for streams with new sealed events, and for streams lagging past their alert.
STRONGROOM_AUDIT_STREAM_DISPATCH_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_DISPATCH_SECONDS", 2)
STRONGROOM_AUDIT_STREAM_LAG_CHECK_SECONDS = env_int("STRONGROOM_AUDIT_STREAM_LAG_CHECK_SECONDS", 30)
# The Celery queue stream deliveries go to (empty: the default queue).
STRONGROOM_AUDIT_STREAM_QUEUE = env_str("STRONGROOM_AUDIT_STREAM_QUEUE", "") or ""
# The cache alias that holds every rate-limit counter (shared by all workers: Redis in production).
STRONGROOM_RATE_LIMIT_CACHE = "default"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "secrets_app.api.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "secrets_app.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["secrets_app.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "secrets_app.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON nested deeper than 64 levels is a 400, not a RecursionError (secrets_app/json_depth.py).
    "DEFAULT_PARSER_CLASSES": ["secrets_app.api.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Strongroom API",
    "DESCRIPTION": "Secrets governance: projects, environments, folders, versioned encrypted secrets, audit.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # PATCH bodies are validated whole (optional fields, not DRF's partial mode): one component per
    # request serializer, with its real required list.
    "COMPONENT_SPLIT_PATCH": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ---------------------------------------------------------------------------------
# Celery's broker when it is not REDIS_URL (default: REDIS_URL, else the filesystem broker).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest task, so a task held by a dead worker is redelivered in bounded time.
    # The unacked sweep runs every N seconds (kombu's default is every 100 s): a message held by a
    # killed worker is back on its queue within visibility_timeout + this interval.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Run tasks inline in the calling process instead of on a worker (debugging only).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# The queue tasks (and beat's messages) go to when no route names one; one per deployment sharing a broker.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery") or "celery"
# How often beat looks for approval and access requests past their expiry (seconds).
APPROVALS_EXPIRY_SWEEP_SECONDS = float(env_int("STRONGROOM_APPROVALS_EXPIRY_SWEEP_SECONDS", 60))
# --- Dynamic secrets (docs/dynamic-secrets.md) -------------------------------------------------
# Live leases (active, revoking, failed, irrevocable) one dynamic secret may have at once.
STRONGROOM_DYNAMIC_MAX_LEASES_PER_SECRET = env_int("STRONGROOM_DYNAMIC_MAX_LEASES_PER_SECRET", 10000)
# The shortest lease TTL accepted (Infisical's floor: one minute; tests lower it).
STRONGROOM_DYNAMIC_MIN_TTL_SECONDS = env_int("STRONGROOM_DYNAMIC_MIN_TTL_SECONDS", 60)
# Revocation retries: base * 2^(attempt-1) capped, with ±50 % jitter; after N attempts: irrevocable.
STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS = env_int("STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS", 10)
STRONGROOM_DYNAMIC_RETRY_MAX_SECONDS = env_int("STRONGROOM_DYNAMIC_RETRY_MAX_SECONDS", 3600)
STRONGROOM_DYNAMIC_REVOKE_MAX_ATTEMPTS = env_int("STRONGROOM_DYNAMIC_REVOKE_MAX_ATTEMPTS", 6)
# A revocation claim older than this (its worker died) may be taken again.
STRONGROOM_DYNAMIC_CLAIM_SECONDS = env_int("STRONGROOM_DYNAMIC_CLAIM_SECONDS", 120)
# Revocation messages are sent with an ETA only this close to it (below the broker's visibility timeout).
STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = env_int("STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS", 300)
# A due lease whose message should have run this long ago is sent again by the sweeper.
STRONGROOM_DYNAMIC_LOST_SECONDS = env_int("STRONGROOM_DYNAMIC_LOST_SECONDS", 60)
# How often the beat sweeper looks for due leases (seconds).
STRONGROOM_DYNAMIC_SWEEP_SECONDS = env_int("STRONGROOM_DYNAMIC_SWEEP_SECONDS", 15)
# The Celery queue revocations go to (empty: the default queue).
STRONGROOM_DYNAMIC_QUEUE = env_str("STRONGROOM_DYNAMIC_QUEUE", "") or ""
# Run-scoped leases (Azure DevOps): how often the poller asks for the state of builds holding
# leases, how many build ids per request and requests per poll; the hook refuses older events;
# a completed run's first N leases are revoked in the hook's request, the rest by workers.
STRONGROOM_ADO_RUN_POLL_SECONDS = env_int("STRONGROOM_ADO_RUN_POLL_SECONDS", 120)
STRONGROOM_ADO_RUN_POLL_BATCH = env_int("STRONGROOM_ADO_RUN_POLL_BATCH", 100)
STRONGROOM_ADO_RUN_POLL_MAX_REQUESTS = env_int("STRONGROOM_ADO_RUN_POLL_MAX_REQUESTS", 50)
STRONGROOM_ADO_HOOK_MAX_AGE_SECONDS = env_int("STRONGROOM_ADO_HOOK_MAX_AGE_SECONDS", 600)
STRONGROOM_ADO_RUN_INLINE_REVOCATIONS = env_int("STRONGROOM_ADO_RUN_INLINE_REVOCATIONS", 25)

# Rotation (docs/rotation.md): failed runs retry after base × 2^(n-1) seconds, up to MAX_ATTEMPTS
# per slot; a run holds its rotation for at most LOCK_SECONDS (a killed worker's claim runs out).
STRONGROOM_ROTATION_RETRY_BASE_SECONDS = env_int("STRONGROOM_ROTATION_RETRY_BASE_SECONDS", 60)
STRONGROOM_ROTATION_MAX_ATTEMPTS = env_int("STRONGROOM_ROTATION_MAX_ATTEMPTS", 5)
STRONGROOM_ROTATION_LOCK_SECONDS = env_int("STRONGROOM_ROTATION_LOCK_SECONDS", 300)
# After a run queued by a reveal (docs/rotation.md), the previously active user's password (the one a
# person saw) is reset this many minutes later: time for consumers to re-read the secrets.
STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES = env_int("STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES", 15)
# Test seam only (tests/rotation): the worker SIGKILLs itself at this named step. Empty in production.
STRONGROOM_ROTATION_TEST_CRASH_AT = env_str("STRONGROOM_ROTATION_TEST_CRASH_AT", "") or ""

CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# --- Rotation policies of ordinary secrets (docs/rotation.md) ----------------------------------
# A secret is "due soon" this many days before its rotation is due; owners are reminded then.
STRONGROOM_ROTATION_DUE_SOON_DAYS = env_int("STRONGROOM_ROTATION_DUE_SOON_DAYS", 7)
# How often the reminder sweep runs (one reminder per secret and due period, whatever the rate).
STRONGROOM_ROTATION_REMINDER_SECONDS = env_int("STRONGROOM_ROTATION_REMINDER_SECONDS", 86400)

# --- Governance engine (docs/governance.md): how often beat refreshes what the dashboard shows ----
# How often beat folds new read events into deliveries (seconds).
STRONGROOM_GOVERNANCE_DELIVERIES_SECONDS = env_int("STRONGROOM_GOVERNANCE_DELIVERIES_SECONDS", 30)
# How often beat recomputes per-secret risk and the day's snapshots (seconds).
STRONGROOM_GOVERNANCE_RISK_SECONDS = env_int("STRONGROOM_GOVERNANCE_RISK_SECONDS", 300)

# --- Azure DevOps estate discovery (docs/ado-migration.md) --------------------------------------
# Requests one scan keeps in flight to one Azure DevOps organization (one scan per organization).
STRONGROOM_ESTATE_CONCURRENCY = env_int("STRONGROOM_ESTATE_CONCURRENCY", 4)
# Items asked per page ($top) of a paged list.
STRONGROOM_ESTATE_PAGE_SIZE = env_int("STRONGROOM_ESTATE_PAGE_SIZE", 100)
# A throttled (429) or failing (5xx) request is retried this many times, waiting Retry-After
# (at most STRONGROOM_ESTATE_MAX_RETRY_WAIT seconds each) or a backoff.
STRONGROOM_ESTATE_RETRIES = env_int("STRONGROOM_ESTATE_RETRIES", 6)
STRONGROOM_ESTATE_MAX_RETRY_WAIT = env_int("STRONGROOM_ESTATE_MAX_RETRY_WAIT", 60)
# A running scan whose heartbeat is older than this is re-queued and resumes where it stopped.
STRONGROOM_ESTATE_STALE_SECONDS = env_int("STRONGROOM_ESTATE_STALE_SECONDS", 300)

CELERY_BEAT_SCHEDULE = {
    "audit-seal": {"task": "audit.tasks.audit_seal_pending", "schedule": 5.0},
    # Queues a delivery for every audit stream with new sealed events (docs/audit-streams.md).
    "audit-streams-dispatch": {
        "task": "audit.streams.tasks.audit_streams_dispatch",
        "schedule": float(STRONGROOM_AUDIT_STREAM_DISPATCH_SECONDS),
    },
    "audit-streams-lag-check": {
        "task": "audit.streams.tasks.audit_streams_lag_check",
        "schedule": float(STRONGROOM_AUDIT_STREAM_LAG_CHECK_SECONDS),
    },
    # Summaries (permission.denied_repeated) of ended denial windows that no later denial wrote.
    "audit-denials-flush": {"task": "audit.tasks.audit_denials_flush", "schedule": 30.0},
    "secret-last-read": {"task": "secrets_app.tasks.secret_last_read_refresh", "schedule": 30.0},
    "data-keys-usage": {"task": "secrets_app.tasks.data_keys_usage_check", "schedule": 3600.0},
    # Re-queues a data-key re-encryption whose message was lost (e.g. sent while Redis was down).
    "data-keys-reencrypt": {"task": "secrets_app.tasks.data_keys_reencrypt_reconcile", "schedule": 300.0},
    "syncs-reconcile": {"task": "syncs.tasks.syncs_reconcile", "schedule": 30.0},
    "rotations-dispatch-due": {"task": "rotation.tasks.rotations_dispatch_due", "schedule": 60.0},
    "syncs-drift-check": {"task": "syncs.tasks.syncs_drift_check", "schedule": 900.0},
    # Re-enqueues deliveries whose message got lost, frees dead workers' claims, sends daily digests.
    "notifications-reconcile": {"task": "notifications.tasks.deliveries_reconcile", "schedule": 60.0},
    # Display only: records access.expired for ended temporary grants (enforcement reads the window).
    "temporary-grants-tidy": {"task": "secrets_app.tasks.temporary_grants_tidy", "schedule": 60.0},
    # Access requests nobody decided in time expire; approvers who have not reviewed get reminders.
    "approvals-access-requests-expire": {
        "task": "approvals.tasks.access_requests_expire_due",
        "schedule": APPROVALS_EXPIRY_SWEEP_SECONDS,
    },
    "approvals-access-request-reminders": {"task": "approvals.tasks.access_request_reminders", "schedule": 900.0},
    # Open change requests past their policy's request_ttl_hours expire; unreviewed ones get reminders.
    "approvals-change-requests-expire": {
        "task": "approvals.tasks.change_requests_expire_due",
        "schedule": APPROVALS_EXPIRY_SWEEP_SECONDS,
    },
    "approvals-change-request-reminders": {"task": "approvals.tasks.change_request_reminders", "schedule": 900.0},
    # Sends the revocation of every lease that is due (or near) and whose message is missing or lost.
    "rotation-policy-reminders": {
        "task": "secrets_app.tasks.rotation_policy_reminders",
        "schedule": float(STRONGROOM_ROTATION_REMINDER_SECONDS),
    },
    "dynamic-leases-sweep": {"task": "dynamic.tasks.leases_sweep", "schedule": float(STRONGROOM_DYNAMIC_SWEEP_SECONDS)},
    # Ends leases of Azure DevOps runs that completed while their service hook was lost.
    "dynamic-ado-runs-poll": {
        "task": "dynamic.tasks.ado_runs_poll",
        "schedule": float(STRONGROOM_ADO_RUN_POLL_SECONDS),
    },
    # Governance (docs/governance.md): deliveries from the audit log, then per-secret risk and the
    # day's snapshots, which the dashboard reads instead of scanning the audit log per page view.
    "governance-deliveries": {
        "task": "governance.tasks.deliveries_refresh",
        "schedule": float(STRONGROOM_GOVERNANCE_DELIVERIES_SECONDS),
    },
    "governance-risk": {"task": "governance.tasks.risk_refresh", "schedule": float(STRONGROOM_GOVERNANCE_RISK_SECONDS)},
    "governance-snapshots": {
        "task": "governance.tasks.snapshots_refresh",
        "schedule": float(STRONGROOM_GOVERNANCE_RISK_SECONDS),
    },
    # Proposes (never performs) deletion of secrets quarantined and quiet for the policy's days.
    "governance-quarantine-deletion": {"task": "governance.tasks_quarantine.deletion_propose", "schedule": 3600.0},
    # Re-sends pipeline gate callbacks (Callback mode) whose message was lost.
    "governance-gate-callbacks": {"task": "governance.gate.tasks.gate_callbacks_reconcile", "schedule": 60.0},
    # Re-queues estate scans whose worker died (they resume after the last finished project).
    "estate-scans-reconcile": {"task": "estate.tasks.estate_scans_reconcile", "schedule": 60.0},
}

# --- Approvals (docs/approvals.md) -------------------------------------------------------------
# Approvers who have not reviewed a pending request are reminded after this many hours (then again
# every as many hours while it stays pending).
STRONGROOM_APPROVAL_REMINDER_HOURS = env_int("STRONGROOM_APPROVAL_REMINDER_HOURS", 24)
# Review links in notifications (approvals/links.py) stop working after this many hours.
STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS = env_int("STRONGROOM_APPROVAL_LINK_MAX_AGE_HOURS", 168)

# --- Invitations (docs/ui.md) -------------------------------------------------------------------
# An e-mailed invitation link (secrets_app/services/invitations.py) stops working after this many
# hours; resending it starts a new period.
STRONGROOM_INVITATION_TTL_HOURS = env_int("STRONGROOM_INVITATION_TTL_HOURS", 72)

# --- Email (notifications) ---------------------------------------------------------------------
# The embedded default (``make run``: SQLite, no DATABASE_URL) writes mail to files in the data
# directory (EMAIL_FILE_PATH), so deliveries show as sent without a mail server; otherwise SMTP.
EMAIL_BACKEND = (
    env_str(
        "STRONGROOM_EMAIL_BACKEND",
        "django.core.mail.backends.smtp.EmailBackend"
        if DATABASE_URL
        else "django.core.mail.backends.filebased.EmailBackend",
    )
    or ""
)
# The SMTP server, its port, credentials and STARTTLS (the SMTP backend only).
EMAIL_HOST = env_str("STRONGROOM_EMAIL_HOST", "localhost") or "localhost"
EMAIL_PORT = env_int("STRONGROOM_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("STRONGROOM_EMAIL_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("STRONGROOM_EMAIL_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("STRONGROOM_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
# Directory the file backend writes mail to.
EMAIL_FILE_PATH = env_str("STRONGROOM_EMAIL_FILE_PATH", str(DATA_DIR / "mail")) or ""
# The From address of the e-mail Strongroom sends.
DEFAULT_FROM_EMAIL = env_str("STRONGROOM_EMAIL_FROM", "strongroom@localhost") or "strongroom@localhost"

# --- Notifications (docs/notifications.md) ------------------------------------------------------
# Delays between delivery attempts (seconds; ±20 % jitter): the first attempt plus one per delay.
STRONGROOM_NOTIFICATIONS_RETRY_DELAYS = [
    float(value) for value in env_list("STRONGROOM_NOTIFICATIONS_RETRY_DELAYS", ["30", "120", "600", "1800", "7200"])
]
# A Retry-After (Slack/Teams 429) longer than this is capped.
STRONGROOM_NOTIFICATIONS_RETRY_AFTER_MAX_SECONDS = env_int("STRONGROOM_NOTIFICATIONS_RETRY_AFTER_MAX_SECONDS", 3600)
# Retries due sooner than this are delayed Celery messages; later ones are picked up by the reconciler.
STRONGROOM_NOTIFICATIONS_COUNTDOWN_MAX_SECONDS = env_int("STRONGROOM_NOTIFICATIONS_COUNTDOWN_MAX_SECONDS", 300)
# A pending delivery not enqueued for this long is re-enqueued; a claim this old is freed.
STRONGROOM_NOTIFICATIONS_LOST_SECONDS = env_int("STRONGROOM_NOTIFICATIONS_LOST_SECONDS", 300)
STRONGROOM_NOTIFICATIONS_STALE_SECONDS = env_int("STRONGROOM_NOTIFICATIONS_STALE_SECONDS", 300)
# How long a digest route collects before its one message (seconds).
STRONGROOM_NOTIFICATIONS_DIGEST_SECONDS = env_int("STRONGROOM_NOTIFICATIONS_DIGEST_SECONDS", 86400)
# Seconds per HTTP request to a notification channel.
STRONGROOM_NOTIFICATIONS_HTTP_TIMEOUT = env_int("STRONGROOM_NOTIFICATIONS_HTTP_TIMEOUT", 10)
# The Celery queue delivery tasks go to (empty: the default queue).
STRONGROOM_NOTIFICATIONS_QUEUE = env_str("STRONGROOM_NOTIFICATIONS_QUEUE", "") or ""
# Slack's Web API base URL; only tests point it elsewhere (an emulator). Not a per-channel setting.
STRONGROOM_SLACK_API_URL = env_str("STRONGROOM_SLACK_API_URL", "https://slack.com/api/") or ""

# --- Outbound requests (secrets_app/outbound.py, docs/security.md) ------------------------------
# Hosts (names, IPs or CIDRs) that syncs, auth methods (JWKS, OIDC discovery, Kubernetes) and every
# other outbound request may reach although they are not public, e.g. an Azure DevOps Server or a
# cluster API server on the LAN; only they may use plain http. Everything else must be public https.
STRONGROOM_OUTBOUND_ALLOWED_HOSTS = env_list("STRONGROOM_OUTBOUND_ALLOWED_HOSTS", [])

# --- People's single sign-on (docs/sso.md) -----------------------------------------------------
# Microsoft Graph, asked for a person's groups when Entra's token has too many to list ("overage").
STRONGROOM_GRAPH_BASE_URL = env_str("STRONGROOM_GRAPH_BASE_URL", "https://graph.microsoft.com") or ""
# The scope of the app's Microsoft Graph token.
STRONGROOM_GRAPH_SCOPE = env_str("STRONGROOM_GRAPH_SCOPE", "https://graph.microsoft.com/.default") or ""

# --- Secret syncs (docs/syncs.md) -------------------------------------------------------------
# The older name of STRONGROOM_OUTBOUND_ALLOWED_HOSTS (both are honoured, for every outbound request).
STRONGROOM_SYNC_ALLOWED_HOSTS = env_list("STRONGROOM_SYNC_ALLOWED_HOSTS", [])
# Seconds per HTTP request to a sync destination.
STRONGROOM_SYNC_HTTP_TIMEOUT = env_int("STRONGROOM_SYNC_HTTP_TIMEOUT", 30)
STRONGROOM_SYNC_ADO_BATCH = env_int("STRONGROOM_SYNC_ADO_BATCH", 100)  # variable values per ADO PUT
# Retries: exponential backoff with full jitter, base * 2^(attempt-1) capped, at most N attempts.
STRONGROOM_SYNC_RETRY_BASE_SECONDS = env_int("STRONGROOM_SYNC_RETRY_BASE_SECONDS", 3)
STRONGROOM_SYNC_RETRY_MAX_SECONDS = env_int("STRONGROOM_SYNC_RETRY_MAX_SECONDS", 300)
STRONGROOM_SYNC_MAX_ATTEMPTS = env_int("STRONGROOM_SYNC_MAX_ATTEMPTS", 6)
# A RUNNING sync whose heartbeat is older than this is considered dead (worker killed).
STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS = env_int("STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS", 60)
# The per-destination lock's time to live (extended by heartbeats while a run writes).
STRONGROOM_SYNC_LOCK_TTL_SECONDS = env_int("STRONGROOM_SYNC_LOCK_TTL_SECONDS", 120)
# A secret write enqueues the affected syncs this many seconds later (writes in a burst share a run).
STRONGROOM_SYNC_DEBOUNCE_SECONDS = env_int("STRONGROOM_SYNC_DEBOUNCE_SECONDS", 1)
# The Celery queue sync runs are sent to (empty: the default queue).
STRONGROOM_SYNC_QUEUE = env_str("STRONGROOM_SYNC_QUEUE", "") or ""
# Retry-After beyond this is capped (a destination asking for a day is retried after this).
STRONGROOM_SYNC_RETRY_AFTER_MAX_SECONDS = env_int("STRONGROOM_SYNC_RETRY_AFTER_MAX_SECONDS", 3600)

# Root logger level: DEBUG, INFO, WARNING, ERROR.
LOG_LEVEL = env_str("STRONGROOM_LOG_LEVEL", "INFO") or "INFO"
# "json": one JSON object per line for log shippers (observability/logs.py, docs/metrics.md).
LOG_FORMAT = env_str("STRONGROOM_LOG_FORMAT", "plain") or "plain"
if LOG_FORMAT not in ("plain", "json"):
    raise SettingError(f"STRONGROOM_LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "observability.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Never log request bodies or SQL parameters: they can hold secret values.
    # The Azure DevOps SDK and msrest log request bodies (secret values) at DEBUG.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "azure.devops": {"level": "WARNING"},
        "msrest": {"level": "WARNING"},
        "azure.core.pipeline.policies.http_logging_policy": {"level": "WARNING"},
        # urllib3 logs request paths at DEBUG: a Slack/Teams webhook URL's path is its secret.
        "urllib3.connectionpool": {"level": "WARNING"},
        "slack_sdk": {"level": "WARNING"},
    },
}

# --- Metrics (docs/metrics.md) ----------------------------------------------------------------
# Bearer token a Prometheus scraper sends to /metrics; unset, /metrics answers 404.
STRONGROOM_METRICS_TOKEN = env_str("STRONGROOM_METRICS_TOKEN", "") or ""
if STRONGROOM_METRICS_TOKEN and len(STRONGROOM_METRICS_TOKEN) < 16:
    raise SettingError("STRONGROOM_METRICS_TOKEN must be at least 16 characters (e.g. openssl rand -hex 32)")

if not DEBUG and SECRET_KEY.startswith("django-insecure"):
    raise SettingError("STRONGROOM_SECRET_KEY must not be an insecure placeholder")
