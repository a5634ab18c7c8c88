"""PocketSphinx, the accuracy floor, through SpeechRecognition."""

from __future__ import annotations

import pytest

from bench.scoring import error_counts
from tests.conftest import clip, corpus_clips
from voxdesk.core.stt.base import EngineUnavailable
from voxdesk.core.stt.sphinx import SphinxTranscriber

pytestmark = pytest.mark.slow


async def test_sphinx_transcribes_english_offline() -> None:
    engine = SphinxTranscriber()
    errors = words = 0
    for item in (c for c in corpus_clips() if c.language == "en"):
        transcript = await engine.transcribe(await item.decode())
        found, total = error_counts(item.reference, transcript.text)
        errors, words = errors + found, words + total
        assert transcript.engine == "sphinx" and transcript.language == "en"
    # Measured 11.3 % (6 of 53 words; these clips come from its own test set): the floor.
    assert errors / words <= 0.2


async def test_sphinx_refuses_languages_it_has_no_model_for() -> None:
    with pytest.raises(EngineUnavailable, match="English model only"):
        await SphinxTranscriber().transcribe(
            await clip("speechrec_english.wav").decode(), language="ru-RU"
        )
