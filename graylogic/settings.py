"""Gray Logic EV charging bridge settings.

Every value that differs between deployments comes from the environment (README lists them
all). With nothing set, the embedded default runs: SQLite, in-memory channel layer.
"""

from pathlib import Path

import environ

from graylogic.channel_layers import redis_channel_layers

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/systemd secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)
# Only for development: graylogic/checks.py warns at start when it is used with DEBUG off.
DEVELOPMENT_SECRET_KEY = "insecure-dev-key-set-SECRET_KEY-in-production"
SECRET_KEY = env_secret("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "graylogic",
    "energy",
    "chargers",
    "sessions",
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
]

ROOT_URLCONF = "graylogic.urls"
ASGI_APPLICATION = "graylogic.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE avoids "database is locked" upgrades when the server and a job write at once;
    # WAL and the other pragmas are set per connection in graylogic/apps.py.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    # A file, not :memory:, so a live server process in the tests sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": env.str("SQLITE_TEST_DB", default=str(BASE_DIR / ".test-db.sqlite3"))}
# Keep database connections between messages: opening one (and its SQLite pragmas) per
# OCPP message was most of the per-message cost (bench/README.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "graylogic.runtime.channel_layers.EmbeddedChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Times to the second in the admin (graylogic/formats/en/formats.py).
FORMAT_MODULE_PATH = ["graylogic.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Serve collected files when present, and fall back to the app directories (tests, dev).
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "homeowner:login"
LOGIN_REDIRECT_URL = "homeowner:now"

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "graylogic.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in and out: every answer, errors included, has one documented shape.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["graylogic.api_parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "graylogic.api.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gray Logic EV charging API",
    "DESCRIPTION": (
        "Chargers' live state, remote start/stop, power limits and charging history. "
        "Authenticate with `Authorization: Token <key>` (create one with "
        "`python manage.py drf_create_token <username>`) or an admin login session. "
        "A user sees only the chargers of the sites they own; staff see all."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": ["connected", "disconnected"],
        "DiagnosisStatusEnum": ["ok", "problem"],
        "CommissioningItemEnum": "energy.checklist.Item",
        "CommissioningGroupEnum": "energy.checklist.Group",
        "CheckStatusEnum": "energy.sources.CheckStatus",
    },
    # Swagger UI and Redoc from the installed drf-spectacular-sidecar: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- OCPP bridge -------------------------------------------------------------------------
OCPP_HEARTBEAT_INTERVAL_S = env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
OCPP_RECONNECT_TIMEOUT_S = env.int("OCPP_RECONNECT_TIMEOUT", default=60)
# Frames larger than this are refused with a CALLERROR; real chargers send a few KiB at most.
OCPP_MAX_FRAME_BYTES = env.int("OCPP_MAX_FRAME_BYTES", default=256 * 1024)
# How often the embedded server sweeps for chargers that went silent.
OCPP_STALE_SWEEP_INTERVAL_S = env.int("OCPP_STALE_SWEEP_INTERVAL", default=30)
# A 2.0.1 station is Pending at boot while its device model is read (GetBaseReport); one whose
# report is not complete this long after it was first asked is accepted without it.
OCPP_DEVICE_MODEL_WAIT_S = env.int("OCPP_DEVICE_MODEL_WAIT", default=60)
# Profile pacing (docs/energy.md): at most 6 profiles per charger an hour, never two within a
# minute. Off only where a test needs a charger's profiles faster than a real site would.
ENERGY_PROFILE_PACING = env.bool("ENERGY_PROFILE_PACING", default=True)
# Troubleshooting (energy/troubleshooting.py): a car drawing above its accepted limit this long
# means the charger ignores the limit.
DIAGNOSIS_OVER_LIMIT_S = env.int("DIAGNOSIS_OVER_LIMIT_S", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The ocpp library logs every frame at INFO; that is per-message noise in production.
        "ocpp": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "chargers.credentials.ChargerPasswordHasher",
]

# --- Periodic jobs -------------------------------------------------------------------------
# One schedule for both ways of running: Celery beat (scaled, REDIS_URL set) or a thread in
# the server process (embedded default, no broker).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-chargers": {
        "task": "chargers.tasks.sweep_stale_chargers",
        "schedule": OCPP_STALE_SWEEP_INTERVAL_S,
    },
    # Runs each site that is due (solar every update_interval_seconds, others every minute).
    # Every second: a thousand sites then come 17 at a time, not 85 every 5 s, a burst that
    # held the answers to chargers back (bench/README.md, P2).
    "energy-control": {
        "task": "energy.tasks.control_tick",
        "schedule": env.int("ENERGY_CONTROL_TICK", default=1),
    },
    # A charger whose car draws above the limit it accepted tries its next profile fallback.
    "limits-ignored-check": {
        "task": "energy.tasks.limits_ignored_check",
        "schedule": env.int("DIAGNOSIS_CHECK_INTERVAL", default=30),
    },
    # Old samples, readings, decisions, events and command logs go, per the retention in the
    # admin (sessions/retention.py), in small batches.
    "prune-old-data": {
        "task": "sessions.tasks.prune_old_data",
        "schedule": env.int("RETENTION_INTERVAL", default=3600),
    },
}
EMBEDDED_JOBS = env.bool("EMBEDDED_JOBS", default=not REDIS_URL)

# --- Serving -----------------------------------------------------------------------------
HOST = env.str("HOST", default="0.0.0.0")
PORT = env.int("PORT", default=9000)
TLS_CERT_FILE = env.str("TLS_CERT_FILE", default="")
TLS_KEY_FILE = env.str("TLS_KEY_FILE", default="")
# OCPP security profiles 2 and 3 (docs/security.md). Addresses (or networks) of the TLS-terminating
# proxies whose X-Forwarded-Proto and forwarded client certificate (X-SSL-Client-Cert) are
# believed; empty: no such header is, and only TLS_CERT_FILE makes a connection TLS.
OCPP_TRUSTED_PROXIES = env.list("OCPP_TRUSTED_PROXIES", default=[])
# The operator a station's client certificate names in its O (and the CA's own name).
OCPP_CERTIFICATE_ORGANIZATION = env.str("OCPP_CERTIFICATE_ORGANIZATION", default="Gray Logic")
# Where the local CA that signs the stations' certificates keeps ca.crt and ca.key (0600).
OCPP_CA_DIR = env.path("OCPP_CA_DIR", default=BASE_DIR / "data" / "ca")

# How long a command (API, admin, jobs) waits for the charger's answer.
OCPP_COMMAND_TIMEOUT_S = env.int("OCPP_COMMAND_TIMEOUT", default=10)

# Commissioning tests (energy/commissioning.py): how long a remote start/stop waits for the
# transaction to begin and end, and a test limit for the measured power to follow it.
COMMISSIONING_TRANSACTION_WAIT_S = env.int("COMMISSIONING_TRANSACTION_WAIT", default=30)
COMMISSIONING_LIMIT_WAIT_S = env.int("COMMISSIONING_LIMIT_WAIT", default=60)

# --- MQTT ----------------------------------------------------------------------------------
# mqtt://user:pass@host:1883 or mqtts://...:8883; unset turns MQTT off (events then cost one check).
MQTT_URL = env_secret("MQTT_URL")
MQTT_PREFIX = env.str("MQTT_PREFIX", default="graylogic").strip("/")
# The bridge runs inside the server (one process) unless the deployment is scaled out: with
# REDIS_URL the servers send events over the channel layer to `manage.py mqtt_bridge`.
MQTT_EMBEDDED = env.bool("MQTT_EMBEDDED", default=not REDIS_URL)
MQTT_CLIENT_ID = env.str("MQTT_CLIENT_ID", default="")
MQTT_TLS_CA_FILE = env.str("MQTT_TLS_CA_FILE", default="")
MQTT_KEEPALIVE_S = env.int("MQTT_KEEPALIVE", default=30)
# Inputs: {prefix} and {site} (a site's name or id) each stand for one topic level.
MQTT_READINGS_TOPIC = env.str("MQTT_READINGS_TOPIC", default="{prefix}/site/{site}/readings")
MQTT_GRID_LEVEL_TOPIC = env.str("MQTT_GRID_LEVEL_TOPIC", default="{prefix}/site/{site}/grid_level")
# Plain-number topics of existing meters, e.g. "grid_w=shellies/em3/power,solar_w=inverter/ac_w".
MQTT_READING_TOPICS = env.dict("MQTT_READING_TOPICS", default={})
# The site those topics (and any topic without {site}) belong to; default: the only site.
MQTT_SITE = env.str("MQTT_SITE", default="")
MQTT_HA_DISCOVERY = env.bool("MQTT_HA_DISCOVERY", default=bool(MQTT_URL))
MQTT_HA_DISCOVERY_PREFIX = env.str("MQTT_HA_DISCOVERY_PREFIX", default="homeassistant").strip("/")
# Every retained topic is checked against the database this often (lapsed limits, missed events).
MQTT_REFRESH_INTERVAL_S = env.int("MQTT_REFRESH_INTERVAL", default=60)
if REDIS_URL:
    # The bridge's inbox holds bursts of meter values (channels-redis drops beyond capacity).
    CHANNEL_LAYERS["default"]["CONFIG"]["channel_capacity"] = {"mqtt-bridge.*": 10000}
