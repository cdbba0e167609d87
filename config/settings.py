"""Candor settings: one module, configured from the environment.

Every variable is documented in README.md ("Configuration") and .env.example.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Variables already in the environment win over the file; ENV_FILE="" reads none.
ENV_FILE = env("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; anything reachable by
# users must set its own.
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set the SECRET_KEY environment variable (required when DEBUG is off)."
        )
    SECRET_KEY = "django-insecure-candor-development-only"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin.CandorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "django_htmx",
    "simple_history",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "advisory",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Framing and the CSP before anything that can answer early (a disallowed
    # host's 400 comes from CommonMiddleware), so every answer carries them.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # The database unreachable: 503 with a friendly page (config/middleware.py;
    # errors from the middleware below reach the same page through handler500).
    "config.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the database: the page cache's generation (advisory/web/page_cache.py).
    "advisory.web.page_cache.GenerationMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor (accounts/two_factor.py).
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",  # ...on every page once set up
    # Refused requests (401/403/404) to the security log (accounts/audit.py).
    "accounts.audit.DeniedRequestLogMiddleware",
    "accounts.middleware.SessionIdleTimeoutMiddleware",
    "accounts.middleware.PrivatePagesMiddleware",  # signed-in pages: private, no-store
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Axes must come last: it inspects the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.csp",
                "advisory.web.context_processors.notifications",
                "advisory.web.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite file by default, PostgreSQL (or any URL django-environ
# understands) through DATABASE_URL. Connections are kept open and checked
# before reuse; `?conn_max_age=N` in the URL overrides the default.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: take the write lock when a transaction starts,
    # so two simultaneous saves queue (and the second sees the version
    # conflict) instead of failing with "database is locked".
    # Write-ahead logging lets pages read while a long write (a large import)
    # is under way, instead of waiting for it and failing.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL;")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and sessions: Redis when REDIS_URL is set, otherwise process-local
# memory and database-backed sessions.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Whole pages kept until the next database write (advisory/web/page_cache.py).
# Only with a cache every process shares: in process-local memory one web
# process would not see another's writes.
PAGE_CACHE = env.bool("PAGE_CACHE", default=bool(REDIS_URL))
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=60)
# What the web processes and the worker must both see (a background import's
# progress): Redis when set, otherwise files on this machine.
CACHES["jobs"] = (
    CACHES["default"]
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(env.path("JOBS_CACHE_DIR", default=BASE_DIR / "var" / "jobs")),
    }
)

# Authentication
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend reading the groups' names and permissions in one query.
    "accounts.backends.RoleBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes: five failed logins for one username from one IP address lock
# that pair out for 15 minutes (HTTP 429, accounts.views.lockout).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
AXES_VERBOSE = False
# A wrong two-factor code counts as a failed log-in (accounts/two_factor.py);
# axes must not store the code typed with it.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Two-factor sign-in (django-otp): authenticator apps (TOTP) and hashed
# recovery codes. Optional for advisors and managers, required for admins
# before they decide let-go cases or use the Django admin.
OTP_TOTP_ISSUER = "Candor"
# The admin lists who has a device (to delete a lost one), never the secrets.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Behind a proxy, set AXES_IPWARE_META_PRECEDENCE_ORDER as in docs/deploy.md.

# Internationalisation
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True
# How dates read on every page, e-mail and the History tab ("7 Dec 2026",
# "7 Dec 2026, 14:05"): config/formats/en/formats.py. The locale's formats win
# over DATE_FORMAT and friends in this file, so they are set there.
FORMAT_MODULE_PATH = ["config.formats"]

# Static files: our own under static/, a few built files from node_modules
# (see config/staticfiles.py), served by whitenoise.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfiles.NodeModulesFinder",
]
NODE_MODULES_DIR = BASE_DIR / "node_modules"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# In development whitenoise serves straight from the finders, so `make run`
# needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if WHITENOISE_USE_FINDERS:
    # Nothing is collected in development; whitenoise needn't say so on every start.
    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

# History: the reason given for a change is kept whole.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# Forms
FILTERS_EMPTY_CHOICE_LABEL = "Any"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# E-mail through Django 6.1's MAILERS: SMTP from EMAIL_URL (e.g.
# smtp+tls://user:password@mail.example.com:587); without it, the console in
# development and the local mail server (localhost:25) otherwise.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Candor <candor@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    _email = env.email_url("EMAIL_URL")
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email["EMAIL_HOST"],
                "port": _email["EMAIL_PORT"],
                "username": _email["EMAIL_HOST_USER"],
                "password": _email["EMAIL_HOST_PASSWORD"],
                "use_tls": _email.get("EMAIL_USE_TLS", False),
                "use_ssl": _email.get("EMAIL_USE_SSL", False),
                "timeout": 10,
            },
        }
    }
elif DEBUG:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}

# Security
SECURE_SSL = env.bool("SECURE_SSL", default=False)
if SECURE_SSL:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# /healthz and /healthz/ready must answer plain HTTP probes from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/ready)?$"]
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Pages carry the CSRF token themselves (forms, htmx's hx-headers); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# A session ends after this long without a request (accounts/middleware.py
# moves the expiry forward at most once a minute while it is in use).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=120) * 60
X_FRAME_OPTIONS = "DENY"
# Everything is served from our own origin; scripts need the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# REST API (advisory/api/): personal tokens or the browser session; JSON only
# (DRF's browsable pages use inline scripts the CSP refuses; /api/docs/ is the
# browsable view). Every endpoint also checks the role's permissions.
REST_FRAMEWORK = {
    # The token class comes first: its WWW-Authenticate challenge makes DRF
    # answer 401 rather than 403 to a request without credentials.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "advisory.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing a body nested too deeply with a 400.
    "DEFAULT_PARSER_CLASSES": ["advisory.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "advisory.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Candor API",
    "DESCRIPTION": (
        "Clients, engagements, the disagreement log, let-go cases and relationship "
        "health, scoped exactly like the pages: a record outside your scope answers 404. "
        "Authenticate with a personal token from your profile page "
        "(`Authorization: Bearer cnd_…`) or the browser session. Edits carry the "
        "`version` they are based on; a stale one answers 409 and saves nothing."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    # PATCH bodies list their own required fields (`version`).
    "COMPONENT_SPLIT_PATCH": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would load from swagger.io. No deep links: Swagger
    # UI puts them inside each operation's button (axe-core: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "advisory.api.schema.add_throttled_answers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BandEnum": "advisory.models.Band",
        "ClientStatusEnum": "advisory.models.Client.Status",
        "EngagementStatusEnum": "advisory.models.Engagement.Status",
        "LetGoCaseStatusEnum": "advisory.models.LetGoCase.Status",
    },
}

# Background work (docs/deploy.md "Background work"): Django's tasks API on
# huey's backend. The queue lives in a SQLite file by default and in Redis when
# REDIS_URL is set; `python manage.py run_huey` is the worker and also runs the
# periodic jobs (advisory/tasks.py). TASKS_IMMEDIATE=true runs every task inside
# the process that enqueues it, without a worker (the tests do this).
TASKS_IMMEDIATE = env.bool("TASKS_IMMEDIATE", default=False)
HUEY = {
    "name": "candor",
    "immediate": TASKS_IMMEDIATE,
    # The worker: threads suit e-mail sending, which mostly waits on the network.
    # An idle worker looks for new work at least every second (huey's default
    # backs off to 10 s), so a queued import starts about when it is asked for.
    "consumer": {
        "workers": env.int("HUEY_WORKERS", default=2),
        "worker_type": "thread",
        "max_delay": 1.0,
    },
}
if REDIS_URL:
    HUEY |= {"huey_class": "huey.RedisHuey", "url": REDIS_URL}
else:
    HUEY |= {
        "huey_class": "huey.SqliteHuey",
        "filename": str(env.path("HUEY_FILE", default=BASE_DIR / "huey.sqlite3")),
    }
TASKS = {
    "default": {
        "BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend",
        # Candor enqueues after the commit itself (transaction.on_commit with
        # robust=True in advisory/notifications/triggers.py), so that a queue that is
        # down is logged instead of failing a request whose change has already
        # committed; deferring a second time here would add nothing.
        "ENQUEUE_ON_COMMIT": False,
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request bodies (passwords) are never logged; Django logs 5xx with a traceback.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The worker (run_huey) adds a handler of its own unless huey's logger has one.
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Refused requests and log-in attempts (accounts/audit.py), whatever LOG_LEVEL says.
        "candor.security": {"level": "INFO"},
        # WeasyPrint (the PDFs) reports each step at INFO; its warnings still show.
        "weasyprint": {"level": "WARNING"},
    },
}

# Candor's own settings.
# At least 12 characters, like every other password (AUTH_PASSWORD_VALIDATORS).
CANDOR_DEMO_PASSWORD = "candor-demo-pass"
# Engagement fees are in this currency (an ISO 4217 code), shown with its
# symbol and thousands separators ("£12,500.00"); CSV exports keep the plain
# number and name the currency in the column header ("Fee (GBP)").
# CANDOR_CURRENCIES are the codes Candor knows, each with the symbol written
# before an amount ("" for none: "CHF 12,500.00"). All have two decimal places.
CANDOR_CURRENCIES = {
    "GBP": "£",
    "EUR": "€",
    "USD": "$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "SGD": "S$",
    "INR": "₹",
    "ZAR": "R",
    "CHF": "",
    "SEK": "",
    "NOK": "",
    "DKK": "",
    "PLN": "",
    "CZK": "",
    "AED": "",
}
CANDOR_CURRENCY = env("CANDOR_CURRENCY", default="GBP").strip().upper()
if CANDOR_CURRENCY not in CANDOR_CURRENCIES:
    raise ImproperlyConfigured(
        f"CANDOR_CURRENCY={CANDOR_CURRENCY!r} is not a currency Candor knows: "
        f"use one of {', '.join(sorted(CANDOR_CURRENCIES))} (ISO 4217 codes)."
    )
# Where Candor is reached, for links in e-mails.
CANDOR_BASE_URL = env("BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The firm's letterhead on Candor's PDFs (the disengagement letter, the
# relationship dossier; advisory/evidence/pdf.py): its name, its postal address
# (lines separated by newlines, or by a literal "\n" as a shell leaves it) and
# an optional logo (a PNG, JPEG, GIF or SVG file; a relative path is read from
# the project's folder). A logo that is not there stops the start.
CANDOR_FIRM_NAME = env("CANDOR_FIRM_NAME", default="Candor").strip() or "Candor"
CANDOR_FIRM_ADDRESS = tuple(
    line.strip()
    for line in env("CANDOR_FIRM_ADDRESS", default="").replace("\\n", "\n").splitlines()
    if line.strip()
)
CANDOR_FIRM_LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
CANDOR_FIRM_LOGO = env("CANDOR_FIRM_LOGO", default="").strip() or None
if CANDOR_FIRM_LOGO:
    CANDOR_FIRM_LOGO = BASE_DIR / CANDOR_FIRM_LOGO  # an absolute path stays as it is
    if CANDOR_FIRM_LOGO.suffix.lower() not in CANDOR_FIRM_LOGO_TYPES:
        raise ImproperlyConfigured(
            f"CANDOR_FIRM_LOGO={str(CANDOR_FIRM_LOGO)!r} is not an image Candor can put on "
            f"its letterhead: use a {', '.join(sorted(CANDOR_FIRM_LOGO_TYPES))} file."
        )
    if not CANDOR_FIRM_LOGO.is_file():
        raise ImproperlyConfigured(
            f"CANDOR_FIRM_LOGO={str(CANDOR_FIRM_LOGO)!r}: there is no such file."
        )
# Notifications (advisory/notifications/): how often a failed e-mail is tried
# again and after how long (seconds); how long an unsubscribe link works; after
# how many days a missing acknowledgment is chased; and how many days back the
# daily reminders catch up (days the job did not run), so that a first run
# does not remind anyone of years of old follow-ups at once.
CANDOR_NOTIFICATIONS = {
    "email_retry_delays": [60, 300, 1800, 7200],
    "unsubscribe_max_age_days": 90,
    "acknowledgment_grace_days": 7,
    "catch_up_days": 7,
}

# Relationship health recipe (advisory/health/score.py). docs/scoring.md explains every
# number; change it and tests/advisory/health/test_score.py together with this dict.
CANDOR_HEALTH = {
    "severity": {"low": 1, "moderate": 2, "high": 4, "critical": 8},
    "tone": {"collaborative": 0.5, "tense": 1, "hostile": 2},
    "decision": {
        "accepted": 0.5,
        "withdrew": 0.6,
        "compromise": 0.8,
        "pending": 1,
        "proceeded": 1.5,
    },
    # advice_vindicated counts only when the client proceeded against the advice.
    "outcome": {
        "client_vindicated": 0.7,
        "pending": 1,
        "mixed": 1,
        "inconclusive": 1,
        "advice_vindicated": 1.3,
    },
    "half_life_days": 90,
    "ignore_after_days": 365,
    "scale": 12,
    "bands": {"healthy": 70, "strained": 40},  # lowest score of each band
    "guardrail_days": 30,
    "trend_days": 90,
}

# The log (advisory/history/): tree heads are signed with the firm's Ed25519
# private key, read from this file and never stored in the database
# (`manage.py log_key create` makes one; docs/deploy.md, "The log's signing
# key", says how to keep and rotate it). Heads signed by an earlier key still
# verify when its public key is listed here (PEM files).
CANDOR_LOG_SIGNING_KEY_FILE = env.path(
    "LOG_SIGNING_KEY_FILE", default=BASE_DIR / "var" / "log-signing-key.pem"
)
CANDOR_LOG_RETIRED_PUBLIC_KEYS = env.list("LOG_RETIRED_PUBLIC_KEYS", default=[])
# An RFC 3161 timestamp authority for every tree head (empty: heads are signed
# but not timestamped, and the log's page says so), the PEM file of the
# certificates that authority's tokens chain to, and how long to wait for it.
CANDOR_TSA_URL = env("TSA_URL", default="")
CANDOR_TSA_CA_FILE = env("TSA_CA_FILE", default="")
CANDOR_TSA_TIMEOUT_SECONDS = 10
