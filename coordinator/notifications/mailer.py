"""Handing a message over: to the SMTP server in MAIL_SERVER, or, without one, to
MAIL_OUTBOX_PATH as an .eml file (so the default install needs no mail server).

Errors leave here without the server's text: an SMTP error quotes addresses, and
exceptions reach the worker's log.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from flask import current_app


class TemporaryFailure(Exception):
    """Try again later (the job's Retry backs off)."""


class PermanentFailure(Exception):
    """The server refused for good (5xx): retrying would be refused again."""

    def __init__(self, code: int):
        super().__init__(f"SMTP {code}")
        self.code = code


def send(message: EmailMessage, name: str) -> None:
    """Deliver `message`; `name` (the job id) names its .eml file in the outbox."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        _write_to_outbox(message, Path(config["MAIL_OUTBOX_PATH"]) / f"{name}.eml")
        return
    try:
        smtp = _connect(config)
        try:
            smtp.send_message(message)
        finally:
            _close(smtp)  # once accepted, a failing QUIT must not turn into a retry
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise _failure(min(codes) if codes else 451) from None
    except smtplib.SMTPResponseException as error:
        raise _failure(error.smtp_code) from None
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(type(error).__name__) from None


def _failure(code: int) -> Exception:
    return PermanentFailure(code) if 500 <= code < 600 else TemporaryFailure(f"SMTP {code}")


def _connect(config) -> smtplib.SMTP:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT_SECONDS"]
    if config["MAIL_USE_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _write_to_outbox(message: EmailMessage, path: Path) -> None:
    """Written whole or not at all (rename), under a name of its own: writing the same
    message twice leaves one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes(policy=SMTP))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
