"""Keep private feed tokens out of logs: access logs print the request line."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

TOKEN_IN_PATH = re.compile(r"(/calendar/[vp]/)[^/\s?#\"'.]+")
REDACTED = r"\1[redacted]"
# Loggers that print request lines: werkzeug's dev server, gunicorn's access and error
# logs. Records of other loggers are scrubbed by the root handlers they reach.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def scrub(text: str) -> str:
    """The text with private feed tokens redacted, however the path was spelt
    (`/%63alendar/v/...` is the same path to the router)."""
    decoded = unquote(text)
    if not TOKEN_IN_PATH.search(decoded):
        return text
    return TOKEN_IN_PATH.sub(REDACTED, decoded)


class FeedTokenFilter(logging.Filter):
    """Rewrites a record whose message holds a private feed URL; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = FeedTokenFilter()


def install() -> None:
    """Attach the filter to the access loggers and the root handlers (idempotent)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
