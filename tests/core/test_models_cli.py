"""``voxdesk models`` run as a user would, against the loopback hub."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.core.test_models import TINY_EN, TINY_REPO
from tests.fakes.hf_hub import FakeHub, Repository
from tests.test_cli import assert_one_line_error, voxdesk


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    hub = await FakeHub().start()
    hub.add(Repository.from_folder(TINY_REPO, TINY_EN))
    yield {"HF_ENDPOINT": hub.endpoint, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "0", "COLUMNS": "200"}  # fmt: skip
    await hub.stop()


async def test_download_path_list_remove(env: dict[str, str], tmp_path: Path) -> None:
    run = await voxdesk("models", "download", "tiny", "--yes", env=env)
    assert run.code == 0, run.err
    folder = tmp_path / "cache" / "voxdesk" / "models" / "downloaded" / "whisper" / "tiny"
    assert run.out.strip() == f"tiny is ready: {folder}"
    assert "tiny" in run.err and "78.1" in run.err  # the progress bar, with the size

    run = await voxdesk("models", "path", "tiny", env=env)
    assert run.out.strip() == str(folder)

    run = await voxdesk("models", "list", env={**env, "VOXDESK_SPEECH__LANGUAGE": "ru"})
    rows = {line.split()[0]: line for line in run.out.splitlines() if line.strip()}
    assert "downloaded" in rows["tiny"] and "bundled" in rows["base"]
    assert "downloadable" in rows["ru_RU-irina-medium"]
    assert "small (suggested)" in run.out

    run = await voxdesk("config", "set", "speech.whisper_model", "tiny", env=env)
    assert run.code == 0, run.err
    run = await voxdesk("models", "remove", "tiny", env=env)
    assert run.code == 0 and not folder.exists()
    # the model in use went: every transcription failed until someone reset the setting
    assert "speech.whisper_model is back to base" in run.out
    run = await voxdesk("config", "show", env=env)
    assert 'whisper_model = "base"' in run.out.splitlines()


async def test_errors_are_one_line(env: dict[str, str]) -> None:
    assert_one_line_error(await voxdesk("models", "download", "tinyy", "-y", env=env),
                          "'tinyy' is not in the catalogue")  # fmt: skip
    assert_one_line_error(
        await voxdesk("models", "download", "small", "-y", env={**env, "HF_HUB_OFFLINE": "1"}),
        "HF_HUB_OFFLINE is set",
        "base (bundled)",
    )
    assert_one_line_error(await voxdesk("models", "path", "small", env=env),
                          "not downloaded", "voxdesk models download small")  # fmt: skip
    assert_one_line_error(await voxdesk("config", "set", "speech.whisper_model", "smal", env=env),
                          "'smal' is not a Whisper model")  # fmt: skip
    # a model that is not here yet: every transcription would fail, so it is not chosen
    assert_one_line_error(await voxdesk("config", "set", "speech.whisper_model", "small", env=env),
                          "Not saved", "'small'", "not downloaded",
                          "Download it first: `voxdesk models download small`")  # fmt: skip
    assert not Path(os.environ["VOXDESK_CONFIG"]).exists()
    for bundled in ("base", "en_US-joe-medium"):
        run = await voxdesk("models", "remove", bundled, env=env)
        assert_one_line_error(run, f"'{bundled}' is bundled with Voxdesk", "cannot be removed")


async def test_help_shows_a_flag_as_a_flag_and_long_names_whole() -> None:
    run = await voxdesk("models", "download", "--help", env={"COLUMNS": "80"})
    assert run.code == 0, run.err
    assert "  -y, --yes  Do not ask before downloading.\n" in run.out
    assert "  --help     Show this message and exit.\n" in run.out
    assert "<bool>" not in run.out
    run = await voxdesk("finetune", "start", "--help", env={"COLUMNS": "80"})
    assert "--learning-rate-multiplier <float>\n" in run.out and "<bool>" not in run.out


async def test_the_list_shows_every_name_whole_on_a_narrow_terminal(env: dict[str, str]) -> None:
    """The name is what `models download` takes: at 80 columns it read
    "uk_UA-ukrainian_tts-medi…"."""
    run = await voxdesk("models", "list", env={**env, "COLUMNS": "80"})
    assert run.code == 0, run.err
    names = {line.split()[0] for line in run.out.splitlines()[1:] if line.strip()}
    assert "uk_UA-ukrainian_tts-medium" in names
