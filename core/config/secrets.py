"""Secrets (Discord token, OpenAI key) from the environment or the OS keyring.

Never from the settings file, never into a log: ``SecretValue`` masks itself in ``repr`` and
``str``, and ``voxdesk.core.logs`` redacts every secret it has seen from log records.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import keyring
import keyring.errors
from keyring.backends import fail

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.logs import register_secret

log = logging.getLogger(__name__)

KEYRING_SERVICE = "voxdesk"


class Secret(StrEnum):
    """The secrets Voxdesk uses; the value is also the environment variable's name."""

    DISCORD_TOKEN = "DISCORD_TOKEN"
    OPENAI_API_KEY = "OPENAI_API_KEY"

    @property
    def label(self) -> str:
        return {"DISCORD_TOKEN": "Discord bot token", "OPENAI_API_KEY": "OpenAI API key"}[self]


class MissingSecret(VoxdeskError):
    """A secret an action needs is neither in the environment nor in the keyring."""

    def __init__(self, secret: Secret) -> None:
        super().__init__(
            f"No {secret.label} is set.",
            hint=(
                f"Set the {secret.value} environment variable, or store it in the keyring with "
                f"`voxdesk config set-secret {secret.value}`."
            ),
        )
        self.secret = secret


class KeyringUnavailable(VoxdeskError):
    """The OS keyring cannot be used here."""


@dataclass(frozen=True)
class SecretValue:
    """A secret and where it came from. It never prints itself."""

    value: str = field(repr=False)
    source: Literal["environment", "keyring"]

    def masked(self) -> str:
        tail = self.value[-4:] if len(self.value) >= 16 else ""
        return f"****{tail} (from {self.source})"

    def __str__(self) -> str:
        return self.masked()


class SecretStore:
    """Reads secrets from the environment first, then the keyring; writes go to the keyring."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, secret: Secret) -> SecretValue | None:
        from_env = self._environ.get(secret.value, "").strip()
        if from_env:
            register_secret(from_env)
            return SecretValue(from_env, "environment")
        from_keyring = self._read_keyring(secret)
        if from_keyring:
            register_secret(from_keyring)
            return SecretValue(from_keyring, "keyring")
        return None

    def require(self, secret: Secret) -> str:
        found = self.get(secret)
        if found is None:
            raise MissingSecret(secret)
        return found.value

    def store(self, secret: Secret, value: str) -> None:
        """Save a secret in the OS keyring (never in a file of ours)."""
        self.check_keyring()
        register_secret(value)
        try:
            keyring.set_password(KEYRING_SERVICE, secret.value, value)
        except keyring.errors.KeyringError as error:
            raise KeyringUnavailable(
                f"The keyring refused to store the secret: {error}."
            ) from error

    def forget(self, secret: Secret) -> None:
        self.check_keyring()
        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # already gone
            keyring.delete_password(KEYRING_SERVICE, secret.value)

    def keyring_problem(self) -> str | None:
        """Why the keyring cannot be used, or None when it can."""
        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return (
                "No OS keyring backend is available (no Secret Service, KWallet or macOS/Windows "
                "keychain); secrets are read from the environment only."
            )
        return None

    def check_keyring(self) -> None:
        """Raise ``KeyringUnavailable`` when the keyring cannot store a secret."""
        problem = self.keyring_problem()
        if problem:
            raise KeyringUnavailable(problem, hint="Set the secret as an environment variable.")

    def _read_keyring(self, secret: Secret) -> str | None:
        if self.keyring_problem():
            return None
        try:
            return keyring.get_password(KEYRING_SERVICE, secret.value)
        except keyring.errors.KeyringError as error:
            log.warning("Keyring lookup failed, using the environment only: %s", error)
            return None
