"""Where ``transcribe -o`` and ``speak -o`` write: never over an input or over each other, a
folder when the user names one, one clear line when the place cannot take the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import clip
from tests.test_cli import assert_one_line_error, voxdesk

AUDIO = clip("pocketsphinx_cards_001.wav").path


async def test_transcribe_never_writes_over_one_of_its_inputs(tmp_path: Path) -> None:
    audio = tmp_path / "x.wav"
    audio.write_bytes(AUDIO.read_bytes())
    link = tmp_path / "notes.txt"
    link.symlink_to(audio)  # the same file under another name
    for output in (audio, link):
        run = await voxdesk("transcribe", str(audio), "-o", str(output))
        assert_one_line_error(run, f"{output} is one of the inputs", "another -o file")
        assert audio.read_bytes() == AUDIO.read_bytes()


async def test_inputs_named_alike_are_refused_before_any_work(tmp_path: Path) -> None:
    inputs = [tmp_path / "coll" / "a.wav", tmp_path / "coll" / "a.ogg"]
    inputs[0].parent.mkdir()
    for path in inputs:
        path.write_bytes(AUDIO.read_bytes())
    out = tmp_path / "collout"
    run = await voxdesk("transcribe", *map(str, inputs), "-o", f"{out}/")
    assert_one_line_error(run, *map(str, inputs), str(out / "a.txt"), "different -o folders")
    assert not out.exists()  # nothing written, not even the folder


@pytest.mark.slow
async def test_a_trailing_slash_names_a_folder(tmp_path: Path) -> None:
    run = await voxdesk("transcribe", str(AUDIO), "-f", "json", "-o", f"{tmp_path / 'jdir'}/")
    assert run.code == 0, run.err
    assert '"text": ' in (tmp_path / "jdir" / f"{AUDIO.stem}.json").read_text()


async def test_an_output_whose_folder_is_missing_or_a_file_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "empty.wav"
    a_file.write_bytes(b"")
    missing = tmp_path / "nodir" / "out.txt"
    run = await voxdesk("transcribe", str(AUDIO), "-o", str(missing))
    assert_one_line_error(run, f"the folder {missing.parent} does not exist", "mkdir -p")
    for output in (f"{a_file}/out.txt", f"{a_file}/"):
        run = await voxdesk("transcribe", str(AUDIO), "-o", output)
        assert_one_line_error(run, f"{a_file} is a file, not a folder")
    assert not missing.parent.exists() and a_file.read_bytes() == b""


async def test_speak_writes_only_what_it_can_where_it_can(tmp_path: Path) -> None:
    flac = tmp_path / "hi.flac"
    run = await voxdesk("speak", "Hello", "-o", str(flac), "-e", "espeak")
    assert_one_line_error(run, "cannot write .flac", ".ogg", ".mp3", ".wav")
    missing = tmp_path / "nodir" / "x.wav"
    run = await voxdesk("speak", "Hello", "-o", str(missing), "-e", "espeak")
    assert_one_line_error(run, f"the folder {missing.parent} does not exist")
    run = await voxdesk("speak", "Hello", "-o", str(tmp_path), "-e", "espeak")
    assert_one_line_error(run, "is a folder", "Name the file")
    assert list(tmp_path.iterdir()) == []


async def test_record_checks_its_output_before_recording(tmp_path: Path) -> None:
    missing = tmp_path / "nodir" / "take.wav"
    run = await voxdesk("record", "-s", "1", "-o", str(missing), "--from-file", str(AUDIO))
    assert_one_line_error(run, f"the folder {missing.parent} does not exist")
