"""Settings for Bailanys.

Everything is read from the environment through the typed helpers below, and
everything has a safe default for the embedded mode (one laptop, SQLite, no
other server). A value that cannot be read stops the process with a message
that names the variable.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.conf.locale import LANG_INFO as _LANG_INFO
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int_list(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        values = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated whole numbers, got {raw!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise ImproperlyConfigured(f"{name} needs at least one positive number, got {raw!r}")
    return values


DATA_DIR = Path(env_str("BAILANYS_DATA_DIR", "data")).resolve()


def _secret_key() -> str:
    """The signing key: from the environment, or a file made once in the data dir."""
    from_env = os.environ.get("BAILANYS_SECRET_KEY")
    if from_env:
        return from_env
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Only its owner may list or read the data directory.
        DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("BAILANYS_DEBUG", False)
# A crisis deployment is often reached by a LAN address nobody knew in
# advance; nothing here builds absolute URLs from the Host header, so the
# default accepts any host. Operators behind a public name should narrow it.
ALLOWED_HOSTS = [h for h in env_str("BAILANYS_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("BAILANYS_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    # django-ninja's own Swagger UI files: /api/v1/docs serves them (a CDN is blocked by
    # our CSP, and would not load offline anyway).
    "ninja",
    # Foundations first, then the outbox, the relay core, channels and conversations:
    # each AppConfig.ready fills the registries of the layers below it.
    "bailanys.privacy",
    "bailanys.accounts",
    "bailanys.parsing",
    "bailanys.outbox",
    "bailanys.relay",
    "bailanys.proxies",
    "bailanys.bulletins",
    "bailanys.outages",
    "bailanys.channels",
    "bailanys.conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bailanys.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "bailanys.accounts.middleware.AccountGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "bailanys.middleware.ContentSecurityPolicyMiddleware",
    "bailanys.middleware.UnreadableRecordMiddleware",
    # Last, so its lockout page still passes through the headers above.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bailanys.urls"
WSGI_APPLICATION = "bailanys.wsgi.application"

# Every form's first field in error takes the focus (bailanys/form_rendering.py).
FORM_RENDERER = "bailanys.form_rendering.Renderer"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'bailanys.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _default_db))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one writer writes; IMMEDIATE takes the
    # write lock at BEGIN, so two claims never both read the same queued case.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Axes refuses a locked username+address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "relay:console"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_AGE = env_int("BAILANYS_SESSION_SECONDS", 12 * 3600, minimum=300)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("BAILANYS_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    # Served over TLS: tell browsers never to use plain HTTP for this site.
    SECURE_HSTS_SECONDS = env_int("BAILANYS_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = env_bool("BAILANYS_SSL_REDIRECT", True)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# "no-referrer" would make browsers send "Origin: null" on our own forms, which
# CSRF checking rightly refuses; same-origin still keeps status links private.
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("kk", _("Kazakh"))]
# Each language is offered under its own name. Django names Kazakh "Қазақ" (name_local);
# a language switch says "Қазақша", as every other switch of ours does (relay.models'
# LANGUAGE_CHOICES, the Telegram bot, the status posts' form): one name everywhere.
_LANG_INFO["kk"] = {**_LANG_INFO["kk"], "name_local": "Қазақша"}
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("BAILANYS_TIME_ZONE", "Asia/Almaty")
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `bailanys up` collects the files here at each start, hashed and gzipped (see
# bailanys/static_files.py); without a collection they are served straight from the
# package, uncompressed. Nothing is ever loaded from another host.
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "bailanys.static_files.Storage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The largest request body any endpoint accepts; bigger ones get a 413.
BAILANYS_MAX_BODY_BYTES = env_int("BAILANYS_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = BAILANYS_MAX_BODY_BYTES

TASKS = {
    "default": {
        "BACKEND": env_str("BAILANYS_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": [],
    }
}

# Relay rules (see docs/operators.md).
BAILANYS_LEASE_SECONDS = env_int("BAILANYS_LEASE_SECONDS", 15 * 60, minimum=30)
BAILANYS_RETRY_DELAYS_MINUTES = env_int_list("BAILANYS_RETRY_DELAYS_MINUTES", [20, 60, 180])
# Volunteer care: after this many hard cases in a row the console offers a lighter case or
# a break before another hard one (the volunteer may still choose to go on).
BAILANYS_HARD_IN_A_ROW = env_int("BAILANYS_HARD_IN_A_ROW", 3, minimum=1)
# How often the coordinators' dashboard refreshes itself, in seconds.
BAILANYS_DASHBOARD_REFRESH_SECONDS = env_int("BAILANYS_DASHBOARD_REFRESH_SECONDS", 10, minimum=1)
# `bailanys up --demo`: how often made-up requests arrive and the demo volunteers call.
BAILANYS_DEMO_PULSE_SECONDS = env_int("BAILANYS_DEMO_PULSE_SECONDS", 15, minimum=1)
# Phone credit (see docs/accounts.md): one SMS a volunteer sends costs as much credit as
# this many call minutes; a balance under BAILANYS_CREDIT_LOW_MINUTES shows as running low.
BAILANYS_SMS_CREDIT_MINUTES = env_int("BAILANYS_SMS_CREDIT_MINUTES", 1)
BAILANYS_CREDIT_LOW_MINUTES = env_int("BAILANYS_CREDIT_LOW_MINUTES", 30)
# A shift is a run of a volunteer's calls with no gap longer than BAILANYS_SHIFT_GAP_MINUTES.
# After BAILANYS_SHIFT_CALLS calls or BAILANYS_SHIFT_HOURS hours in one the console suggests
# stopping for the day (nothing is blocked).
BAILANYS_SHIFT_CALLS = env_int("BAILANYS_SHIFT_CALLS", 40, minimum=1)
BAILANYS_SHIFT_HOURS = env_int("BAILANYS_SHIFT_HOURS", 6, minimum=1)
BAILANYS_SHIFT_GAP_MINUTES = env_int("BAILANYS_SHIFT_GAP_MINUTES", 120, minimum=1)
# Dispatch offers a volunteer cases on the operators they call cheaply first, but a case
# that has waited longer than this counts as matching for everyone: nobody waits for a
# volunteer on the right tariff.
BAILANYS_OPERATOR_PREFERENCE_MINUTES = env_int("BAILANYS_OPERATOR_PREFERENCE_MINUTES", 30)
BAILANYS_MAX_ATTEMPTS = env_int(
    "BAILANYS_MAX_ATTEMPTS", len(BAILANYS_RETRY_DELAYS_MINUTES) + 1, minimum=1
)
BAILANYS_OUTBOX_MAX_TRIES = env_int("BAILANYS_OUTBOX_MAX_TRIES", 8, minimum=1)
BAILANYS_WORKER_SWEEP_SECONDS = env_int("BAILANYS_WORKER_SWEEP_SECONDS", 30, minimum=1)
# The most sends one `bailanys worker` process keeps in flight on one channel (each channel
# keeps its rate x round trip, docs/scaling.md).
BAILANYS_WORKER_SENDERS = env_int("BAILANYS_WORKER_SENDERS", 8, minimum=1, maximum=32)

# Privacy (see docs/security.md).
BAILANYS_RETENTION_DAYS = env_int("BAILANYS_RETENTION_DAYS", 14, minimum=1)
BAILANYS_RETENTION_MAX_DAYS = env_int("BAILANYS_RETENTION_MAX_DAYS", 60, minimum=1)
BAILANYS_PURGE_EVERY_SECONDS = env_int("BAILANYS_PURGE_EVERY_SECONDS", 3600, minimum=60)


def env_limit(name: str, default: str) -> str:
    """A rate limit written COUNT/SECONDS, e.g. 30/300."""
    raw = env_str(name, default)
    count, _sep, seconds = raw.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise ImproperlyConfigured(f"{name} must look like 30/300 (count/seconds), got {raw!r}")
    return raw


# Flood limits on intake, per network address and per requester contact.
# bench/intake_load.py: mount /bench/bare, a bare insert to compare the intake with.
BAILANYS_BENCH_ENDPOINTS = env_bool("BAILANYS_BENCH_ENDPOINTS", False)
BAILANYS_INTAKE_LIMIT_PER_SOURCE = env_limit("BAILANYS_INTAKE_LIMIT_PER_SOURCE", "30/300")
BAILANYS_INTAKE_LIMIT_PER_CONTACT = env_limit("BAILANYS_INTAKE_LIMIT_PER_CONTACT", "10/3600")
# Safe check-ins by SMS (SAFE and its Russian and Kazakh words) from one number.
BAILANYS_CHECKIN_LIMIT_PER_NUMBER = env_limit("BAILANYS_CHECKIN_LIMIT_PER_NUMBER", "5/3600")
# Answers quoting a bridge reference (B12) from a number the bridge SMS did not go to.
BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER = env_limit("BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER", "5/86400")
# Only behind a reverse proxy that sets it; otherwise anyone could pick their own address.
BAILANYS_TRUST_X_FORWARDED_FOR = env_bool("BAILANYS_TRUST_X_FORWARDED_FOR", False)
if BAILANYS_TRUST_X_FORWARDED_FOR:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "bailanys_cache",
        }
    }

# Free text (see docs/parsing.md): parsed posts less sure than this wait for review.
try:
    BAILANYS_PARSE_REVIEW_BELOW = float(env_str("BAILANYS_PARSE_REVIEW_BELOW", "0.6"))
except ValueError:
    raise ImproperlyConfigured("BAILANYS_PARSE_REVIEW_BELOW must be a number from 0 to 1") from None

# Telegram (see docs/telegram.md). Without a token the channel is off.
BAILANYS_TELEGRAM_BOT_TOKEN = env_str("BAILANYS_TELEGRAM_BOT_TOKEN", "")
# Calls go to {url}/bot{token}/{method}: a self-hosted telegram-bot-api, or a fake in tests.
BAILANYS_TELEGRAM_API_URL = env_str("BAILANYS_TELEGRAM_API_URL", "https://api.telegram.org").rstrip(
    "/"
)
# Webhook mode: Telegram sends this in X-Telegram-Bot-Api-Secret-Token; empty = webhook off.
BAILANYS_TELEGRAM_WEBHOOK_SECRET = env_str("BAILANYS_TELEGRAM_WEBHOOK_SECRET", "")
# Telegram's limits: about 30 messages a second in all, 1 a second to one chat,
# 20 a minute to one group. The sender keeps a little under each.
BAILANYS_TELEGRAM_PER_SECOND = env_int("BAILANYS_TELEGRAM_PER_SECOND", 30, minimum=1)
BAILANYS_TELEGRAM_CHAT_INTERVAL_MS = env_int("BAILANYS_TELEGRAM_CHAT_INTERVAL_MS", 1050, minimum=1)
BAILANYS_TELEGRAM_GROUP_INTERVAL_MS = env_int(
    "BAILANYS_TELEGRAM_GROUP_INTERVAL_MS", 3100, minimum=1
)

# SMS (see docs/sms.md). One sms-gate.app gateway (Android phone) from the environment;
# sending is POST {url}/message with basic auth, its webhook POST /channels/smsgate/webhook.
BAILANYS_SMSGATE_URL = env_str("BAILANYS_SMSGATE_URL", "").rstrip("/")
BAILANYS_SMSGATE_USERNAME = env_str("BAILANYS_SMSGATE_USERNAME", "")
BAILANYS_SMSGATE_PASSWORD = env_str("BAILANYS_SMSGATE_PASSWORD", "")
BAILANYS_SMSGATE_SIGNING_KEY = env_str("BAILANYS_SMSGATE_SIGNING_KEY", "")
# Android sends at most 30 SMS parts a minute per app; operators block SIMs that send too much.
BAILANYS_SMS_PER_MINUTE = env_int("BAILANYS_SMS_PER_MINUTE", 30, minimum=1)
BAILANYS_SMS_DAILY_CAP = env_int("BAILANYS_SMS_DAILY_CAP", 400, minimum=1)
# A webhook whose X-Timestamp is older (or further ahead) than this is refused.
BAILANYS_SMS_WEBHOOK_MAX_AGE_SECONDS = env_int("BAILANYS_SMS_WEBHOOK_MAX_AGE_SECONDS", 300)
# A received SMS is told from a gateway's re-delivery of it by the phone's own message id
# (or its own receive time); only when a gateway gives neither, the same text from the same
# number through the same phone within this window is one SMS.
BAILANYS_SMS_DUPLICATE_SECONDS = env_int("BAILANYS_SMS_DUPLICATE_SECONDS", 60)
# Parts of a long SMS arriving separately are joined when they come within this window.
BAILANYS_SMS_JOIN_SECONDS = env_int("BAILANYS_SMS_JOIN_SECONDS", 5)
# A gateway silent (no heartbeat, no report) for this long is stale: others take its work.
BAILANYS_SMS_STALE_MINUTES = env_int("BAILANYS_SMS_STALE_MINUTES", 15, minimum=1)
# A sent SMS with no delivery report after this long is "unknown", never "delivered"; one a
# phone or modem took but never reported sent, while it is stale, is failed (docs/sms.md).
BAILANYS_SMS_REPORT_MINUTES = env_int("BAILANYS_SMS_REPORT_MINUTES", 60, minimum=1)
# An SMS telling a requester something that a gateway reports failed is sent again this
# many times (another SIM first, then with the outbox's back-off) before it counts as failed.
BAILANYS_SMS_RESENDS = env_int("BAILANYS_SMS_RESENDS", 3, minimum=0)
# Bulk SMS (proxy answers, bulletins: the outbox lanes behind the urgent one) may use this
# percent of a SIM's daily cap; the rest is kept for relay notifications and replies.
BAILANYS_SMS_BULK_SHARE = env_int("BAILANYS_SMS_BULK_SHARE", 50, minimum=0, maximum=100)
# The SMS bridge: cases of these kinds are first sent to the recipient by SMS (when a
# gateway is configured); no reply within BAILANYS_SMS_BRIDGE_MINUTES puts them in the call
# queue. An empty list turns the bridge off.
BAILANYS_SMS_BRIDGE_KINDS = [
    k for k in env_str("BAILANYS_SMS_BRIDGE_KINDS", "deliver_message").split(",") if k.strip()
]
BAILANYS_SMS_BRIDGE_MINUTES = env_int("BAILANYS_SMS_BRIDGE_MINUTES", 30, minimum=1)

# Proxies (docs/proxies.md): buckets of this many proxies (2 at the least) ...
BAILANYS_PROXY_BUCKET_SIZE = env_int("BAILANYS_PROXY_BUCKET_SIZE", 3, minimum=2)
# ... each given to at most this many requesters.
BAILANYS_PROXY_BUCKET_REQUESTERS = env_int("BAILANYS_PROXY_BUCKET_REQUESTERS", 10, minimum=1)
# One answer per requester per this many hours (one "too soon" reply, then silence).
BAILANYS_PROXY_ANSWER_HOURS = env_int("BAILANYS_PROXY_ANSWER_HOURS", 3, minimum=0)
# Buckets one requester may get in its lifetime, unless its bucket was blocked.
BAILANYS_PROXY_BUCKETS_PER_REQUESTER = env_int("BAILANYS_PROXY_BUCKETS_PER_REQUESTER", 3, minimum=1)
# Salmon's threshold, in percent: a requester this suspect gets no new bucket.
BAILANYS_PROXY_MAX_SUSPICION = env_int("BAILANYS_PROXY_MAX_SUSPICION", 33, minimum=1)
# The worker checks every stocked and active proxy this often (a TCP connect, and a TLS
# handshake for fake-TLS secrets); 3 failures in a row mark it down.
BAILANYS_PROXY_CHECK_SECONDS = env_int("BAILANYS_PROXY_CHECK_SECONDS", 300, minimum=10)
# Numbers one account may vouch for (COUNT/SECONDS): vouching shows the trusted pool, so a
# volunteer who turned could otherwise collect it one number at a time.
BAILANYS_PROXY_VOUCH_LIMIT = env_limit("BAILANYS_PROXY_VOUCH_LIMIT", "20/86400")
# Requesters who asked nothing for this many days are forgotten (and their reports).
BAILANYS_PROXY_REQUESTER_DAYS = env_int("BAILANYS_PROXY_REQUESTER_DAYS", 90, minimum=1)

# The shutdown's state (docs/status.md): outside feeds polled by the worker. Their data says
# nothing about anyone; what we send them is only which country and networks we watch.
BAILANYS_IODA_URL = env_str("BAILANYS_IODA_URL", "https://api.ioda.inetintel.cc.gatech.edu/v2")
BAILANYS_OONI_URL = env_str("BAILANYS_OONI_URL", "https://api.ooni.io/api")
BAILANYS_RADAR_URL = env_str("BAILANYS_RADAR_URL", "https://api.cloudflare.com/client/v4/radar")
# Cloudflare Radar's outage annotations are read only with an API token.
BAILANYS_RADAR_TOKEN = env_str("BAILANYS_RADAR_TOKEN", "")
# Which feeds the worker polls ("ioda,ooni"; empty: none, e.g. an offline rehearsal).
BAILANYS_OUTAGE_FEEDS = [
    f.strip() for f in env_str("BAILANYS_OUTAGE_FEEDS", "ioda,ooni").split(",") if f.strip()
]
# IODA is polled this often; OONI hourly at most, Radar every 30 minutes at most. A state
# whose readings are older than twice their feed's interval turns "unknown".
BAILANYS_OUTAGE_POLL_SECONDS = env_int("BAILANYS_OUTAGE_POLL_SECONDS", 300, minimum=10)
# Our own sensors (SMS delivery reports, call outcomes) count over this many minutes.
BAILANYS_OUTAGE_SENSOR_MINUTES = env_int("BAILANYS_OUTAGE_SENSOR_MINUTES", 60, minimum=5)
# The ASNs watched: "number=Name" or "number=Name:carrier" (the carrier name phonenumbers
# gives the operator's numbers; a mobile operator has one), comma-separated.
BAILANYS_OUTAGE_ASNS = env_str(
    "BAILANYS_OUTAGE_ASNS",
    "9198=Kazakhtelecom,21299=Beeline:Beeline,29355=Kcell:Kcell/Activ,48503=Tele2/Altel:T2,"
    "35104=Jusan Mobile:Jusan,41798=Transtelecom",
)

# STATUS by SMS (what works now) from one number: each answer is an SMS we pay for.
BAILANYS_STATUS_LIMIT_PER_NUMBER = env_limit("BAILANYS_STATUS_LIMIT_PER_NUMBER", "10/3600")

# Bulletins (docs/bulletins.md): a subscriber not heard from for this many days is forgotten.
BAILANYS_SUBSCRIBER_DAYS = env_int("BAILANYS_SUBSCRIBER_DAYS", 180, minimum=1)
# CHECK <code> from one number (or /check from one chat): codes are short, so asking must
# cost something, or a number could run through them all.
BAILANYS_BULLETIN_CHECK_LIMIT_PER_NUMBER = env_limit(
    "BAILANYS_BULLETIN_CHECK_LIMIT_PER_NUMBER", "20/3600"
)

# Accounts (see docs/accounts.md).
BAILANYS_INVITATION_DAYS = env_int("BAILANYS_INVITATION_DAYS", 7, minimum=1)
# The address volunteers open, for invitation links printed by the CLI
# (e.g. https://relay.example.org); the web page uses the address it was opened at.
BAILANYS_PUBLIC_URL = env_str("BAILANYS_PUBLIC_URL", "").rstrip("/")
BAILANYS_LOGIN_FAILURES = env_int("BAILANYS_LOGIN_FAILURES", 5, minimum=1)
BAILANYS_LOGIN_COOLOFF_MINUTES = env_int("BAILANYS_LOGIN_COOLOFF_MINUTES", 15, minimum=1)

# Login throttling (django-axes): per username *and* address, so a stranger
# cannot lock a volunteer out from elsewhere. Axes stores an HMAC of the
# username, no login history, and logs neither names nor addresses.
AXES_FAILURE_LIMIT = BAILANYS_LOGIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=BAILANYS_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "bailanys.accounts.throttle.username_key"
AXES_CLIENT_IP_CALLABLE = "bailanys.privacy.network.client_ip"
AXES_LOCKOUT_CALLABLE = "bailanys.accounts.views.login_locked"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "user_agent", "password", "code"]

# Two-factor login (django-otp, TOTP) for coordinators and admins.
OTP_TOTP_ISSUER = "Bailanys"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "bailanys.privacy.logfilter.RedactingFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("BAILANYS_LOG_LEVEL", "INFO")},
    "loggers": {
        # Request logs carry URLs, and a status URL is a secret.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        # Axes says little at WARNING, and with the settings above never a name
        # or an address; its INFO lines are noise.
        "axes": {"level": "WARNING"},
        # httpx logs every URL it calls, and a Bot API URL holds the bot's token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "telegram": {"level": "WARNING"},
    },
}
