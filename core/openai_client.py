"""One way to build the OpenAI client and to turn its errors into messages a user can act on.

The openai package is imported where it is used: importing it takes some 0.6 s (its hundreds of
response types), which the window's start would otherwise pay before anyone asked for OpenAI.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from voxdesk.core.config.secrets import MissingSecret, Secret, SecretStore
from voxdesk.core.config.settings import OpenAISettings
from voxdesk.core.config.store import SettingsWatch
from voxdesk.core.errors import VoxdeskError

if TYPE_CHECKING:
    import openai


class OpenAIError(VoxdeskError):
    """The OpenAI API refused or could not be reached."""


def make_client(
    settings: OpenAISettings,
    secrets: SecretStore,
    *,
    max_retries: int | None = None,
    http_client: openai.DefaultAioHttpClient | None = None,
) -> openai.AsyncOpenAI:
    """An async client with our base URL, timeout and retries (the settings', unless given);
    raises if no key is set. ``http_client`` replaces the SDK's httpx one, e.g. with aiohttp."""
    import openai

    key = secrets.get(Secret.OPENAI_API_KEY)
    if key is None:
        raise MissingSecret(Secret.OPENAI_API_KEY)
    return openai.AsyncOpenAI(
        api_key=key.value,
        base_url=settings.base_url or None,
        timeout=settings.timeout,
        max_retries=settings.max_retries if max_retries is None else max_retries,
        http_client=http_client,
    )


class LazyClient:
    """One client for a part that talks to OpenAI, made on first use and made anew when the
    settings it was made from change. Closed, it opens a new one on the next use: a part
    outlives the close at a command's end or a window's quit."""

    def __init__(
        self, make: Callable[[], openai.AsyncOpenAI], settings: SettingsWatch | None = None
    ) -> None:
        self._make = make
        self._settings = settings  # what the client is made from: a new key or base URL
        self._client: openai.AsyncOpenAI | None = None
        self._holds: Counter[openai.AsyncOpenAI] = Counter()  # requests under way on each

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The client, made now if there is none; kept as it is (``use`` renews it)."""
        if self._client is None:
            self._client = self._make()
        return self._client

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[openai.AsyncOpenAI]:
        """The client for one request, made anew first if its settings changed since. The old
        client is closed once no request holds it: closed under a request in flight (a long
        upload, another coroutine's reply), it would fail that request."""
        # Asked at every use: a change made before the first client must not renew the second.
        changed = self._settings is not None and self._settings.changed()
        old = self._client
        if old is not None and changed:
            self._client = None
            if not self._holds[old]:
                await old.close()
        client = self.client
        self._holds[client] += 1
        try:
            yield client
        finally:
            self._holds[client] -= 1
            if not self._holds[client]:
                del self._holds[client]
                if client is not self._client:  # renewed or closed meanwhile
                    await client.close()

    async def close(self) -> None:
        """Close every client now, even one a request holds (it ends with the part's use);
        a later use opens a new client."""
        current, self._client = self._client, None
        for client in {*self._holds, *([current] if current else [])}:
            await client.close()


def explain(error: openai.OpenAIError) -> OpenAIError:
    """A user-facing error for anything the openai package raises."""
    import openai

    if isinstance(error, openai.AuthenticationError):
        return OpenAIError(
            "OpenAI rejected the API key.",
            hint="Check OPENAI_API_KEY or the key stored in the keyring.",
        )
    if isinstance(error, openai.PermissionDeniedError):
        return OpenAIError("OpenAI refused: this key may not use that model or endpoint.")
    if isinstance(error, openai.RateLimitError):
        return OpenAIError(
            "OpenAI's rate limit or quota was reached.",
            hint="Wait a minute, or check the account's billing and limits.",
        )
    if timed_out(error):
        return OpenAIError(
            "OpenAI did not answer in time.", hint="Try again; raise openai.timeout."
        )
    if isinstance(error, openai.APIConnectionError):
        return OpenAIError(
            "OpenAI cannot be reached.",
            hint="Check the internet connection and openai.base_url.",
        )
    if isinstance(error, openai.APIStatusError):
        return OpenAIError(f"OpenAI answered {error.status_code}: {_detail(error)}.")
    return OpenAIError(f"The OpenAI request failed: {error}.")


def timed_out(error: openai.OpenAIError) -> bool:
    """Whether OpenAI was reached but did not answer in time. The SDK's aiohttp transport
    reports every failed connection (refused, reset) as a timeout: its cause tells them apart."""
    import aiohttp
    import openai

    if not isinstance(error, openai.APITimeoutError):
        return False
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError):
            return isinstance(cause, TimeoutError)
        cause = cause.__cause__
    return True


def unreachable(error: openai.OpenAIError) -> bool:
    """Whether the request never got an answer from OpenAI, for a reason other than time."""
    import openai

    return isinstance(error, openai.APIConnectionError) and not timed_out(error)


def _detail(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return error.message


async def check_key(settings: OpenAISettings, key: str) -> str:
    """Ask OpenAI whether ``key`` works; a short confirmation, or a clear error."""
    import openai

    client = openai.AsyncOpenAI(
        api_key=key, base_url=settings.base_url or None, timeout=settings.timeout, max_retries=0
    )
    try:
        models = await client.models.list()
    except openai.OpenAIError as error:
        raise explain(error) from error
    finally:
        await client.close()
    return f"OpenAI accepted the key ({len(models.data)} models available)."
