"""Django settings for the clinic, read from the environment.

``LUTETIA_DATABASE_URL``   PostgreSQL (``postgresql://user:password@host:port/name``, psycopg 3) or
                           SQLite (``sqlite:///path``); default: ``lutetia.sqlite3`` in the data
                           directory, in WAL mode with foreign keys on.
``LUTETIA_DATA_DIR``       the data directory (default ``$XDG_DATA_HOME/lutetia``, else
                           ``~/.local/share/lutetia``): the SQLite file and the secret key.
``LUTETIA_SECRET_KEY``     the signing key; default: a random key kept in the data directory (0600).
``LUTETIA_ALLOWED_HOSTS``  extra host names, comma-separated (127.0.0.1 and localhost always).
``LUTETIA_INSECURE_HTTP``  ``1`` only for the loopback demo and tests served over plain HTTP:
                           cookies are then not marked Secure and HSTS is off.
``LUTETIA_TIME_ZONE``      the department's IANA time zone (default ``Europe/Paris``).
``LUTETIA_STUDIES_DIR``    the folder of SPECT/CT studies the physicist can import (default
                           ``studies`` in the data directory).
``LUTETIA_RULESET``        the ruleset the engines run under: a built-in profile (default
                           ``eanm-snmmi-2023``) or a site's ``lutetia.ruleset/1`` JSON file;
                           ``lutetia serve`` refuses to start with one it cannot read.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF


def data_dir() -> Path:
    """The directory for the SQLite database and the secret key (created, mode 0700)."""
    configured = os.environ.get("LUTETIA_DATA_DIR")
    if configured:
        path = Path(configured)
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "lutetia"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _secret_key() -> str:
    configured = os.environ.get("LUTETIA_SECRET_KEY")
    if configured:
        return configured
    path = data_dir() / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key)
        return key


def database(url: str | None) -> dict[str, Any]:
    """Django's ``DATABASES['default']`` for ``url`` (None: the SQLite file in the data dir)."""
    import dj_database_url

    if not url:
        url = f"sqlite:///{data_dir() / 'lutetia.sqlite3'}"
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # WAL: readers do not block the writer; FULL: a committed write survives a crash.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif config["ENGINE"].startswith("django.db.backends.postgresql"):
        config["ENGINE"] = "django.db.backends.postgresql"
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ValueError(f"LUTETIA_DATABASE_URL: unsupported database {config['ENGINE']!r}")
    # Transactions are explicit around every write (views and store), not per request: under
    # SQLite's IMMEDIATE mode a per-request transaction would make every page a writer.
    config["ATOMIC_REQUESTS"] = False
    config["TEST"] = {"NAME": None}
    return config


BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = _secret_key()
DEBUG = False
INSECURE_HTTP = os.environ.get("LUTETIA_INSECURE_HTTP") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"] + [
    host.strip() for host in os.environ.get("LUTETIA_ALLOWED_HOSTS", "").split(",") if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "csp",
    "lutetia.clinic.apps.ClinicConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lutetia.clinic.urls"
WSGI_APPLICATION = "lutetia.clinic.wsgi.application"
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
                "lutetia.clinic.roles.context",
            ]
        },
    }
]

DATABASES = {"default": database(os.environ.get("LUTETIA_DATABASE_URL"))}
# Per-process cache of the engines' advice, keyed by patient, record version and day
# (lutetia.clinic.views._cached): never stale, only repeated work saved.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 20000},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "board"
LOGOUT_REDIRECT_URL = "login"

# django-axes: five failed sign-ins for one user name from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not INSECURE_HTTP
CSRF_COOKIE_SECURE = not INSECURE_HTTP
SECURE_HSTS_SECONDS = 0 if INSECURE_HTTP else 31536000
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("LUTETIA_TIME_ZONE", "Europe/Paris")
USE_I18N = False
USE_TZ = True

#: Image studies the physicist can import (one sub-folder per study, laid out as
#: docs/imaging.md says); the clinic reads only below this folder.
STUDIES_DIR = Path(os.environ.get("LUTETIA_STUDIES_DIR") or data_dir() / "studies")

#: The ruleset (thresholds, regimen, follow-up windows) every advice is computed under.
RULESET = os.environ.get("LUTETIA_RULESET") or "eanm-snmmi-2023"

STATIC_URL = "/static/"
STATIC_ROOT = data_dir() / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# No patient data in logs: requests are logged by status and path only, and paths carry
# database keys, never a patient identifier or name.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING"},
        "django.security.DisallowedHost": {"handlers": ["console"], "level": "ERROR"},
        "axes": {"handlers": ["console"], "level": "WARNING"},
    },
}
