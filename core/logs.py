"""Logging set-up with secret redaction.

Every secret that ``voxdesk.core.config.secrets`` hands out is registered here, and a filter on our
handlers replaces it in every record, whatever library logged it (HTTP clients log headers).
"""

from __future__ import annotations

import logging
import threading

REDACTED = "[redacted]"
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in a log record from now on."""
    if len(value) >= 6:  # shorter strings would redact ordinary words
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's final message with every registered secret replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: int = logging.WARNING, handler: logging.Handler | None = None) -> None:
    """Log to stderr (or ``handler``) through the redaction filter."""
    handler = handler or logging.StreamHandler()
    handler.addFilter(SecretRedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
