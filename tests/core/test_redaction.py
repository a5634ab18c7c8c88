"""Secrets leave every message: registered ones, and anything shaped like a credential."""

from __future__ import annotations

import logging

import pytest

from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.logs import REDACTED, SecretRedactingFilter, redact, register_secret


def test_registered_secrets_and_key_shapes_leave_a_message() -> None:
    register_secret("hunter2-registered-secret")
    error = VoxdeskError(
        "OpenAI answered 400: Invalid request for key Bearer sk-never-registered-0123456789.",
        hint="Not hunter2-registered-secret.",
    )
    shown = user_message(error)
    assert shown == (
        f"OpenAI answered 400: Invalid request for key Bearer {REDACTED}. Not {REDACTED}."
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("key sk-proj-AbC_dEf-0123456789", f"key {REDACTED}"),
        ("Authorization: bearer abcdefgh.ijkl/mnop=", f"Authorization: bearer {REDACTED}"),
        (
            "token MTA4NjE2NTU0NDI4NzE4MDg1Mg.GZ4Nvb.abcdefghijklmnopqrstuvwxyz0123 refused",
            f"token {REDACTED} refused",
        ),
        (
            "https://alice:s3cr%40t@proxy.example:8443/v1",
            f"https://{REDACTED}@proxy.example:8443/v1",
        ),
        # a password with an @ typed as is showed its end; a token alone as the user showed whole
        ("http://user:p@ss@gw.example/v1", f"http://{REDACTED}@gw.example/v1"),
        ("https://tok3n_AbCdEf@gw.example/v1", f"https://{REDACTED}@gw.example/v1"),
        # ordinary words stay
        ("http://127.0.0.1:8080/v1/files@x", "http://127.0.0.1:8080/v1/files@x"),
        (
            "the bearer of bad news, a task-force, Привет",
            "the bearer of bad news, a task-force, Привет",
        ),
    ],
)
def test_shapes(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_any_exception_becomes_a_redacted_line() -> None:
    assert user_message(RuntimeError("sent Bearer abcdefghijkl")) == f"sent Bearer {REDACTED}"
    assert user_message(TimeoutError()) == "TimeoutError"


def test_a_base_urls_password_is_redacted_in_logs() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: POST %s",
        ("https://bob:pa55word@gw.example/v1",),
        None,
    )
    SecretRedactingFilter().filter(record)
    assert record.getMessage() == f"HTTP Request: POST https://{REDACTED}@gw.example/v1"
