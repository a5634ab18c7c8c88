"""Fixtures every test shares: isolated settings and keyring, the speech corpus, one model."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from voxdesk.core.audio import DecodeLimits, Pcm, RawFormat, decode_to_pcm
from voxdesk.core.stt.whisper import WhisperTranscriber

if TYPE_CHECKING:
    from openai._base_client import AsyncAPIClient

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"
RUSSIAN = DATA / "russian"
GENEROUS = DecodeLimits(max_bytes=1 << 30, max_seconds=3600, timeout=120)


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    reference: str
    duration: float

    async def decode(self) -> Pcm:
        raw = RawFormat() if self.path.suffix == ".raw" else None
        return await decode_to_pcm(self.path, GENEROUS, raw=raw)


def corpus_clips() -> list[Clip]:
    with (CORPUS / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Clip(
            CORPUS / Path(row["file"]).name,
            row["language"],
            row["reference_transcript"],
            float(row["duration_seconds"]),
        )
        for row in rows
    ]


def russian_clips() -> list[Clip]:
    with (RUSSIAN / "sentences.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Clip(RUSSIAN / row["file"], "ru", row["text"], 0.0) for row in rows]


def clip(name: str) -> Clip:
    return next(item for item in corpus_clips() if item.path.name == name)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps passwords in a dict, for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.passwords:
            raise keyring.errors.PasswordDeleteError(username)
        del self.passwords[(service, username)]


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reads the user's settings or secrets, or leaves files outside tmp_path."""
    monkeypatch.setenv("VOXDESK_CONFIG", str(tmp_path / "config" / "settings.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the database lives here
    # The bot token's lock is user-wide: bots of concurrent test runs share the fake's token.
    # A folder of its own (private, as XDG requires), beside tmp_path rather than in it.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("run")))
    for name in ("DISCORD_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def openai_clients() -> Iterator[list[AsyncAPIClient]]:
    """Every async OpenAI client built during the run, in order."""
    from openai._base_client import AsyncAPIClient  # where every async client is built

    clients: list[AsyncAPIClient] = []
    build = AsyncAPIClient.__init__

    def recording(self: AsyncAPIClient, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        clients.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AsyncAPIClient, "__init__", recording)
        yield clients


@pytest.fixture(autouse=True)
def openai_clients_closed(openai_clients: list[AsyncAPIClient]) -> Iterator[None]:
    """A test closes every OpenAI client it opens. One left to the garbage collector closes
    its connections from whichever later test's loop runs then, and asyncio logs the failure
    into that test ("Task exception was never retrieved")."""
    start = len(openai_clients)
    yield
    left = sum(not client.is_closed() for client in openai_clients[start:])
    del openai_clients[start:]
    if left:
        pytest.fail(f"{left} OpenAI client(s) left open: close them (client.close(), "
                    "Services.close(), or `async with` the client).")  # fmt: skip


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture(scope="session")
def whisper() -> WhisperTranscriber:
    """The default offline engine, loaded once for the whole run."""
    return WhisperTranscriber("base")


@pytest.fixture
def fake_sounddevice(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """sounddevice replaced by a stand-in whose stream calls back from its own thread."""
    from tests.fakes.sounddevice import make_module

    module = make_module()
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    return module


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write in: read-only by its mode, or, for root (whom modes do
    not stop), a read-only mount."""
    if sys.platform == "win32":
        pytest.skip("Windows ignores a folder's read-only attribute")
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("root without the right to mount: no folder is read-only to it")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)
