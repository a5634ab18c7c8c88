"""``voxdesk transcribe`` on many files: a bar each, a summary, and past a bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import clip
from tests.test_cli import voxdesk

TINY = {"VOXDESK_SPEECH__WHISPER_MODEL": "tiny.en", "VOXDESK_SPEECH__LANGUAGE": "en"}


@pytest.mark.slow
async def test_many_files_a_bad_one_among_them_a_summary_and_status_1(tmp_path: Path) -> None:
    bad = tmp_path / "voice.ogg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    stars, cards = (
        clip("deepspeech_new_home_in_the_stars.wav").path,
        clip("pocketsphinx_cards_001.wav").path,
    )
    files = [stars, bad, tmp_path / "missing.wav", cards]
    out = tmp_path / "texts"
    run = await voxdesk(
        "transcribe", *map(str, files), "-o", str(out),
        env={**TINY, "VOXDESK_SPEECH__PARALLEL_FILES": "2"},
    )  # fmt: skip
    assert run.code == 1 and "Traceback" not in run.err
    # the files after the bad ones were transcribed all the same
    assert (
        out / f"{stars.stem}.txt"
    ).read_text().strip() == "We must find a new home in the stars."
    assert "clubs" in (out / f"{cards.stem}.txt").read_text()
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{stars.stem}.txt", f"{cards.stem}.txt"]
    )
    summary = run.err[run.err.index("2 of 4 transcribed") :]
    assert re.findall(r"│ (done|failed) +│", summary) == ["done", "failed", "failed", "done"]
    assert "PNG image" in summary and "no such file" in summary
    assert "tiny.en" in summary


@pytest.mark.slow
async def test_many_good_files_status_0_texts_in_order() -> None:
    files = [clip("deepspeech_new_home_in_the_stars.wav").path, clip("speechrec_english.wav").path]
    run = await voxdesk("transcribe", *map(str, files), env=TINY)
    assert run.code == 0, run.err
    assert "2 of 2 transcribed" in run.err
    assert "We must find a new home in the stars." in run.out and "speechrec_english.wav" in run.out
