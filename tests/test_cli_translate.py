"""voxdesk transcribe --translate: English text, or one line saying why not."""

from __future__ import annotations

import pytest

from tests.conftest import clip
from tests.test_cli import assert_one_line_error, voxdesk

FRENCH = str(clip("speechrec_french.aiff").path)


@pytest.mark.slow
async def test_translate_prints_english() -> None:
    run = await voxdesk("transcribe", "--translate", FRENCH)
    assert run.code == 0, run.err
    assert "dictation number" in run.out.lower()


async def test_translate_with_an_english_only_model_is_one_line() -> None:
    run = await voxdesk(
        "transcribe", "--translate", FRENCH, env={"VOXDESK_SPEECH__WHISPER_MODEL": "tiny.en"}
    )
    assert_one_line_error(run, "tiny.en", "cannot translate", "'base'")


async def test_translate_with_google_is_one_line() -> None:
    run = await voxdesk("transcribe", "--translate", "-e", "google", FRENCH)
    assert_one_line_error(run, "google engine cannot translate", "whisper or openai")


async def test_translate_from_an_unknown_language_is_one_line() -> None:
    run = await voxdesk("transcribe", "--translate", "-l", "xx", FRENCH)
    assert_one_line_error(run, "does not know the language 'xx'", "'auto'")


@pytest.mark.slow
async def test_record_live_translates() -> None:
    run = await voxdesk("record", "--live", "--translate", "-s", "4", "--from-file", FRENCH)
    assert run.code == 0, run.err
    assert "dictation" in run.out.lower()
    refused = await voxdesk("record", "--translate", "-e", "sphinx", "--from-file", FRENCH)
    assert_one_line_error(refused, "sphinx engine cannot translate")
