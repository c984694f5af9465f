"""Terrarium's settings, read from the environment and validated strictly:
a bad value stops start-up with one clear message."""

import os
import re
import secrets
import socket
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from kombu import Queue
from django.core.exceptions import ImproperlyConfigured

from dashboard.nodes.queues import node_queue

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("TERRARIUM_STATE_DIR", BASE_DIR / ".state"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_number(name: str, default: float, low: float, high: float, kind=float):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, not {raw!r}")
    return value


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = STATE_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG", False)
# Subprocesses started by the test suite (worker, Daphne) set TERRARIUM_TESTING.
TESTING = "pytest" in sys.modules or os.environ.get("TERRARIUM_TESTING") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "dashboard.accounts",
    "dashboard.nodes",
    "dashboard.images",
    "dashboard.containers",
    "dashboard.monitoring",
    "dashboard.shell",
    "dashboard.labs",
    "dashboard.classes",
    "dashboard.networks",
    "dashboard.appproxy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout raised by its backend into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
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
                "dashboard.accounts.context_processors.roles",
            ]
        },
    }
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "dashboard.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{STATE_DIR / 'db' / 'db.sqlite3'}"), conn_max_age=60
    )
}
if "DATABASE_URL" not in os.environ and not (STATE_DIR / "db").is_dir():
    # scripts/state-dir.sh hands it to the web user.
    (STATE_DIR / "db").mkdir(mode=0o700, parents=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the worker write concurrently.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The test worker and Daphne are separate processes: the test database must be a file they can open.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TERRARIUM_TEST_DB", f"/tmp/terrarium-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"



def _redis_url() -> str:
    """REDIS_URL as the admin gives it; else the Redis `make run` starts, with
    the secret it keeps in the state directory (scripts/redis.sh)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    port = _env_number("TERRARIUM_REDIS_PORT", 6379, 1, 65535, int)
    try:
        secret = (STATE_DIR / "redis.secret").read_text().strip()
    except FileNotFoundError:
        return f"redis://127.0.0.1:{port}/0"
    return f"redis://:{secret}@127.0.0.1:{port}/0"


REDIS_URL = _redis_url()
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must be a redis:// URL, not {os.environ.get('REDIS_URL')!r}")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
    },
    # The graphs' samples and events: Redis pub/sub pushes each message to
    # the web process as it is published, where the default layer's inbox
    # costs every receiving process four round trips per message. A sample
    # nobody is subscribed to is dropped, which live graphs can afford.
    "stats": {
        "BACKEND": "dashboard.shell.pubsub.QuietPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    },
    # Browser shells and logs (dashboard.shell.wire.LAYER): one hop each way,
    # and no per-message round trips in the web process, whose single inbox
    # in the default layer held a keystroke behind every busy shell's
    # output. Delivery is at most once; the shell's offsets repair losses.
    "shell": {
        "BACKEND": "dashboard.shell.pubsub.QuietPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    },
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

NODE_NAME = os.environ.get("NODE_NAME") or socket.gethostname()
if "pytest" in sys.modules and "NODE_NAME" not in os.environ:
    # A test session's worker must never consume another session's tasks on a shared Redis.
    NODE_NAME = f"test-{socket.gethostname()}-{os.getpid()}"
if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", NODE_NAME):
    raise ImproperlyConfigured(f"NODE_NAME must be letters, digits, '.', '_' and '-', not {NODE_NAME!r}")
# Each worker declares its own node's queue; tasks are always sent to a node's queue by name.
CELERY_TASK_QUEUES = [Queue("default"), Queue(node_queue(NODE_NAME))]
NODE_HEARTBEAT_SECONDS = _env_number("NODE_HEARTBEAT_SECONDS", 5, 1, 60)
NODE_DEAD_AFTER_SECONDS = _env_number("NODE_DEAD_AFTER_SECONDS", 20, 3, 600)
TERRARIUM_ROOT = os.environ.get("TERRARIUM_ROOT", "/var/lib/terrarium")
UPLOAD_MAX_BYTES = _env_number("UPLOAD_MAX_BYTES", 4 << 30, 1 << 20, 1 << 40, int)
UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", STATE_DIR / "uploads"))
# A container's pid 1 that ignores SIGTERM is killed after this grace, as `docker stop` does.
CONTAINER_STOP_SECONDS = _env_number("CONTAINER_STOP_SECONDS", 10, 0, 300)
# Each container's limits when the form leaves them blank, for teachers and admins without a quota.
CONTAINER_DEFAULT_PIDS = _env_number("CONTAINER_DEFAULT_PIDS", 1024, 16, 4194304, int)
CONTAINER_DEFAULT_DISK_BYTES = _env_number("CONTAINER_DEFAULT_DISK_BYTES", 10 << 30, 16 << 20, 1 << 50, int)
SAMPLE_HZ = _env_number("SAMPLE_HZ", 1.0, 0.2, 10.0)
SHELL_GRACE_SECONDS = _env_number("SHELL_GRACE_SECONDS", 600, 5, 86400, int)
# Open browser shells per user without a quota (teachers, admins); a student's come from the quota.
SHELL_MAX_PER_USER = _env_number("SHELL_MAX_PER_USER", 16, 1, 1000, int)
# Runs of one lab step's check a student may ask for (each is a row and a script on the node).
LAB_MAX_CHECKS_PER_STEP = _env_number("LAB_MAX_CHECKS_PER_STEP", 1000, 1, 1_000_000, int)
# Shared networks one teacher may own (each is a bridge and a subnet on every node it is used on).
NETWORKS_PER_TEACHER = _env_number("NETWORKS_PER_TEACHER", 20, 1, 1000, int)
# Lab shells' recordings (asciicast v2), root-only on the node that owns the PTY
# (dashboard.shell.recording): each stops at its cap, an instance keeps its newest few.
RECORDING_DIR = Path(os.environ.get("TERRARIUM_RECORDING_DIR", STATE_DIR / "recordings"))
RECORDING_MAX_BYTES = _env_number("RECORDING_MAX_BYTES", 8 << 20, 4096, 1 << 30, int)
RECORDINGS_PER_INSTANCE = _env_number("RECORDINGS_PER_INSTANCE", 20, 1, 1000, int)
AGENT_COMPONENTS = [
    "dashboard.nodes.heartbeat.run",
    "dashboard.monitoring.sampler.run",
    "dashboard.shell.agent.run",
    "dashboard.appproxy.proxy.run",
]
# Containers' web apps (dashboard.appproxy): each port opens on an origin of its
# own, c<pk>-<port>.<TERRARIUM_APPS_DOMAIN>, served by the node agent's proxy on
# TERRARIUM_APPS_BIND:TERRARIUM_APPS_PORT. `{node}` in the domain is the node's
# name (several nodes: a wildcard DNS name per node). Browsers resolve *.localhost
# to the machine itself.
TERRARIUM_APPS_DOMAIN = os.environ.get("TERRARIUM_APPS_DOMAIN", "localhost")
if not re.fullmatch(r"(\{node\}|[A-Za-z0-9-]+)(\.(\{node\}|[A-Za-z0-9-]+))*", TERRARIUM_APPS_DOMAIN):
    raise ImproperlyConfigured(f"TERRARIUM_APPS_DOMAIN must be a domain name, not {TERRARIUM_APPS_DOMAIN!r}")
TERRARIUM_APPS_BIND = os.environ.get("TERRARIUM_APPS_BIND", "127.0.0.1")
if not re.fullmatch(r"[0-9.]{7,15}|[0-9A-Fa-f:]{2,39}", TERRARIUM_APPS_BIND):
    raise ImproperlyConfigured(f"TERRARIUM_APPS_BIND must be an IP address, not {TERRARIUM_APPS_BIND!r}")
if "pytest" in sys.modules and "TERRARIUM_APPS_PORT" not in os.environ:
    # A test session's proxy must not meet another session's (or `make run`'s) on one port.
    with socket.socket() as _probe:
        _probe.bind(("127.0.0.1", 0))
        os.environ["TERRARIUM_APPS_PORT"] = str(_probe.getsockname()[1])
TERRARIUM_APPS_PORT = _env_number("TERRARIUM_APPS_PORT", 8001, 1, 65535, int)
# Where the proxy sends a browser without its cookie: the dashboard, as browsers reach it.
TERRARIUM_DASHBOARD_URL = os.environ.get("TERRARIUM_DASHBOARD_URL", "http://127.0.0.1:8000").rstrip("/")
if not re.fullmatch(r"https?://[^/?#\s]+", TERRARIUM_DASHBOARD_URL):
    raise ImproperlyConfigured(f"TERRARIUM_DASHBOARD_URL must be http(s)://host[:port], not {TERRARIUM_DASHBOARD_URL!r}")

if TESTING:
    # Dozens of users are created per test run; a slow hash would dominate it.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are throttled by django-axes: the 5th wrong password for a
# username from one address locks that pair out for 15 minutes, even with the
# right password; a success before that starts the count again.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Successful logins are not recorded: the table would grow with every login for nothing.
AXES_DISABLE_ACCESS_LOG = True
# No start-up banner in every manage.py command; each failure and lockout is still logged.
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Served over HTTPS (TERRARIUM_HTTPS=1, behind a TLS-terminating proxy that sets
# X-Forwarded-Proto): cookies only over HTTPS, with the __Host- prefix (no Domain,
# Path=/: a sibling host cannot set or read them), and browsers told to use HTTPS only.
HTTPS = _env_bool("TERRARIUM_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = "/"
    SESSION_COOKIE_DOMAIN = CSRF_COOKIE_DOMAIN = None
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Front-end libraries come from npm (package.json) and are served from here, never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/uplot", BASE_DIR / "node_modules/uplot/dist"),
    ("vendor/xterm", BASE_DIR / "node_modules/@xterm/xterm"),
    ("vendor/xterm-addon-fit", BASE_DIR / "node_modules/@xterm/addon-fit/lib"),
    ("vendor/asciinema-player", BASE_DIR / "node_modules/asciinema-player/dist/bundle"),
]
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = STATE_DIR / "staticfiles"
# WhiteNoise serves from the finders too; an absent STATIC_ROOT is only noise in the logs.
STATIC_ROOT.mkdir(mode=0o750, parents=True, exist_ok=True)
FILE_UPLOAD_TEMP_DIR = None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
