"""Settings, read from the environment in this one place (django-environ).

With nothing set, the platform runs on the embedded default: SQLite and files under ``var/``, e-mail printed to
the console, Celery tasks run in-process. Production sets ``DATABASE_URL``, ``REDIS_URL``, the storage and
e-mail variables listed in the README.
"""

from pathlib import Path

import environ
import plotly
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The process's own environment wins over the file; ENV_FILE points at a file kept elsewhere (/etc/…).
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="embedded-default-insecure-key-change-me-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The contest's name in page titles and e-mails (sign-up and password e-mails included).
CONTEST_NAME = env.str("CONTEST_NAME", default="Inverse Scaling Prize")
# How many examples each reviewer labels without seeing the answers (the label spot-check).
SPOT_CHECK_SIZE = env.int("SPOT_CHECK_SIZE", default=20)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "config",  # the site as a whole: pages cached until the data changes (config/freshness.py)
    "accounts",
    "submissions",
    "evaluation",
    "reviews",
    "pages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "submissions.uploads.UploadSizeLimitMiddleware",
    "accounts.middleware.ViewerTimezoneMiddleware",
    "config.middleware.CacheUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "accounts.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# No ATOMIC_REQUESTS: services own their transactions and keep them short (on SQLite, a transaction holds the
# write lock that every other request and the worker wait for).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default's web and worker processes share one file: WAL lets them read while one writes,
    # and IMMEDIATE transactions wait for the lock instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # A web or worker process keeps its PostgreSQL connection between requests (a new one forks a server
    # process: several ms per request); one that went bad, after a database restart, is replaced on next use.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's and allauth's, each reading the signed-in user with SQL compiled once (accounts/backends.py).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ModelBackend",
    "accounts.backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth: log in with e-mail or username; sign-up asks for both.
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{CONTEST_NAME}] "
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
LOGIN_URL = "account_login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js comes from the plotly package itself (no CDN: pages work offline).
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Uploaded task files go through django-storages: local files by default, S3-compatible storage when a bucket
# is configured.
_bucket = env.str("STORAGE_BUCKET", default="")
if _bucket:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env.str("STORAGE_ENDPOINT_URL", default=None),
            "access_key": env.str("STORAGE_ACCESS_KEY", default=None),
            "secret_key": env.str("STORAGE_SECRET_KEY", default=None),
            "region_name": env.str("STORAGE_REGION", default=None),
            "file_overwrite": False,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_BACKEND", default="whitenoise.storage.CompressedStaticFilesStorage")
    },
}
WHITENOISE_USE_FINDERS = True

# E-mail: printed to the console unless EMAIL_URL says otherwise (smtp+tls://user:password@host:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{CONTEST_NAME} <noreply@localhost>")

# Celery: Redis in production. With no REDIS_URL, a broker in files under var/broker that needs no server
# (bin/run starts a worker beside the web process).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # The exchange tables (kombu's default is ./control, in whatever folder the process started in).
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # An unacknowledged task comes back after this long; the claim (compare-and-set) keeps it from running twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=7200)
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The cache holds what every web process must agree on, such as django-allauth's count of failed logins: a
# per-process cache would let each gunicorn worker allow its own 5 attempts. Redis when there is one; else a
# table in the embedded default's database (bin/run runs createcachetable), which its processes share.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "contest",
            # A cache that does not answer is given up on quickly: every database write tells the cache (the
            # pages' freshness stamp), and no request may hang on an unreachable server.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # Read from Redis, kept in the database (accounts/sessions.py).
    SESSION_ENGINE = "accounts.sessions"
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}
    }

MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=100)
# The text of one request, files aside: five times the longest valid set of submission-form answers
# (122,200 characters of up to 4 bytes each); beyond it the site's 413 page says so (config.views).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The first handler stops reading an upload once its file passes MAX_UPLOAD_MB (submissions/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "submissions.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# One line per record with its extra fields and job context (config/logging.py): readable text by default,
# JSON lines with LOG_FORMAT=json (production).
LOGGING = logging_config(
    fmt=env.str("LOG_FORMAT", default="text"), level=env.str("LOG_LEVEL", default="INFO")
)

# HTTPS. SECURE_COOKIES=true says the site is served over HTTPS only: cookies are sent over HTTPS only, plain
# HTTP is redirected and browsers are told to use HTTPS for a year (HSTS); each can be set on its own. Behind a
# reverse proxy that terminates TLS, TRUSTED_PROXY_COUNT (the number of proxies) makes Django trust its
# X-Forwarded-Proto and django-allauth's rate limits read the client's address from X-Forwarded-For.
_https = env.bool("SECURE_COOKIES", default=False) and not DEBUG
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if ALLAUTH_TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): scripts only from the site itself (no inline <script>, no eval; plotly.js
# needs neither). plotly.js adds <style> elements and style attributes as it draws, and the progress bars' widths
# are style attributes, so inline styles are allowed. Bootstrap's icons are data: images; plotly's "download
# plot" button draws through data: and blob: images. Checked in Chromium by tests/test_security_browser.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Evaluation: a run whose worker sends no heartbeat for this long goes back to the queue (at most
# EVALUATION_MAX_ATTEMPTS claims), checked by the sweeper every EVALUATION_SWEEP_SECONDS. A worker writes the
# heartbeat every EVALUATION_HEARTBEAT_SECONDS from claim to completion, model loading included. A run still
# queued EVALUATION_QUEUED_RESEND_SECONDS after it was sent is sent again (its message may have been lost; the
# claim makes a duplicate harmless).
EVALUATION_HEARTBEAT_TIMEOUT = env.int("EVALUATION_HEARTBEAT_TIMEOUT", default=300)
EVALUATION_HEARTBEAT_SECONDS = env.float(
    "EVALUATION_HEARTBEAT_SECONDS", default=EVALUATION_HEARTBEAT_TIMEOUT / 10
)
EVALUATION_QUEUED_RESEND_SECONDS = env.int("EVALUATION_QUEUED_RESEND_SECONDS", default=1800)
if not 0 < EVALUATION_HEARTBEAT_SECONDS < EVALUATION_HEARTBEAT_TIMEOUT:
    raise ImproperlyConfigured(
        f"EVALUATION_HEARTBEAT_SECONDS ({EVALUATION_HEARTBEAT_SECONDS}) must be above 0 and below "
        f"EVALUATION_HEARTBEAT_TIMEOUT ({EVALUATION_HEARTBEAT_TIMEOUT}), or every run would be swept"
    )
EVALUATION_MAX_ATTEMPTS = env.int("EVALUATION_MAX_ATTEMPTS", default=3)
EVALUATION_SWEEP_SECONDS = env.int("EVALUATION_SWEEP_SECONDS", default=60)
EVALUATION_DEVICE = env.str("EVALUATION_DEVICE", default="") or None  # cuda when present, else cpu
EVALUATION_DTYPE = env.str("EVALUATION_DTYPE", default="float32")
EVAL_CACHE_DIR = env.str("EVAL_CACHE_DIR", default=str(VAR_DIR / "cache" / "evaluations"))
MODELS_DIR = Path(env.str("MODELS_DIR", default=str(VAR_DIR / "models")))
# Chart PNGs: at most CHART_RENDER_SLOTS headless-Chromium renders at once on a machine (all its web processes
# together); a request that finds every slot busy for CHART_RENDER_WAIT_SECONDS gets a 503 with Retry-After.
CHART_RENDER_SLOTS = env.int("CHART_RENDER_SLOTS", default=2)
CHART_RENDER_WAIT_SECONDS = env.float("CHART_RENDER_WAIT_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-evaluation-runs": {
        "task": "evaluation.tasks.sweep_stale_runs",
        "schedule": float(EVALUATION_SWEEP_SECONDS),
        "options": {"queue": "default"},
    }
}
