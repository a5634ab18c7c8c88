"""Logging set-up with secret redaction.

Every secret that ``voxdesk.core.config.secrets`` hands out is registered here, and a filter on our
handlers replaces it in every record, whatever library logged it (HTTP clients log headers).
``redact`` also takes out what looks like a credential though nobody registered it, and user-facing
messages go through it too (``voxdesk.core.errors.user_message``).
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "[redacted]"
# Credentials by their shape: a server may echo a header or a key we never handed out (a key from
# another profile, a password in a base URL).
_SHAPES = tuple(
    (re.compile(pattern, re.ASCII), replacement)
    for pattern, replacement in (
        (r"(?i)\b(bearer)\s+[\w.~+/=-]{7,}[\w~+/=-]", rf"\1 {REDACTED}"),  # an Authorization header
        (r"\bsk-[\w-]{8,}", REDACTED),  # OpenAI-style keys
        (r"\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}", REDACTED),  # Discord bot tokens
        # A URL's user:password@ or token@, up to its last @ (a password typed with an @ in it)
        (r"(?<=://)[^/\s]*@", f"{REDACTED}@"),
    )
)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in a log record from now on."""
    if len(value) >= 6:  # shorter strings would redact ordinary words
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` without any registered secret or anything shaped like a credential."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
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
