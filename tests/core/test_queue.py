"""The queue of files: states, the limit on files at once, cancel and retry one, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import clip
from tests.core.test_whisper import long_audio
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.stt import SpeechService
from voxdesk.core.stt.queue import JobState, TranscriptionJob, TranscriptionQueue

pytestmark = pytest.mark.slow  # Whisper tiny.en transcribes the corpus clips

STARS = "deepspeech_new_home_in_the_stars.wav"
CARDS = "pocketsphinx_cards_001.wav"


def queue(parallel: int = 1) -> tuple[TranscriptionQueue, list[TranscriptionJob]]:
    settings = Settings()
    settings.speech.whisper_model = "tiny.en"
    settings.speech.language = "en"
    settings.speech.parallel_files = parallel
    changes: list[TranscriptionJob] = []
    files = TranscriptionQueue(SpeechService(settings, SecretStore({})))
    files.subscribe(changes.append)
    return files, changes


def png(folder: Path) -> Path:
    fake = folder / "voice.ogg"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return fake


async def long_file(folder: Path) -> Path:
    path = folder / "long.wav"
    path.write_bytes((await long_audio()).to_wav())
    return path


async def test_files_go_through_their_states_and_a_bad_one_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    files, changes = queue()
    jobs = files.add([clip(STARS).path, png(tmp_path), clip(CARDS).path])
    assert [job.state for job in jobs] == [JobState.WAITING] * 3
    assert (jobs[0].engine, jobs[0].model, jobs[0].language) == ("whisper", "tiny.en", "en")
    stars, bad, cards = await files.wait()
    assert stars.state is JobState.DONE and cards.state is JobState.DONE
    assert stars.transcript is not None and "new home in the stars" in stars.transcript.text.lower()
    assert cards.transcript is not None and "clubs" in cards.transcript.text.lower()
    assert bad.state is JobState.FAILED and "PNG image" in bad.error and bad.transcript is None
    assert stars.duration == pytest.approx(clip(STARS).duration, abs=0.05)
    for job in (stars, bad, cards):
        states = [change.state for change in changes if change.id == job.id]
        assert states[:2] == [JobState.WAITING, JobState.TRANSCRIBING]
        assert states[-1] is job.state and states.count(job.state) == 1


@pytest.mark.parametrize("parallel", [1, 2])
async def test_no_more_files_at_once_than_the_setting(parallel: int) -> None:
    files, changes = queue(parallel)
    running: set[int] = set()
    most = 0

    def count(job: TranscriptionJob) -> None:
        nonlocal most
        (running.add if job.state is JobState.TRANSCRIBING else running.discard)(job.id)
        most = max(most, len(running))

    files.subscribe(count)
    done = await files.wait(files.add([clip(STARS).path, clip(CARDS).path] * 2))
    assert [job.state for job in done] == [JobState.DONE] * 4
    assert most == parallel
    # waiting files start in the order they came
    started = dict.fromkeys(c.id for c in changes if c.state is JobState.TRANSCRIBING)
    assert list(started) == [job.id for job in done]


async def test_cancel_one_while_another_runs(tmp_path: Path) -> None:
    files, changes = queue(parallel=2)
    long, _ = files.add([await long_file(tmp_path), clip(STARS).path])

    def cancel_once_under_way(job: TranscriptionJob) -> None:
        if job.id == long.id and job.state is JobState.TRANSCRIBING and job.progress > 0:
            assert files.cancel(long.id)

    files.subscribe(cancel_once_under_way)
    cancelled, done = await files.wait()
    assert cancelled.state is JobState.CANCELLED and 0 < cancelled.progress < 1
    assert cancelled.transcript is None
    assert done.state is JobState.DONE and done.transcript is not None
    assert not files.cancel(done.id)  # finished: nothing to cancel
    # a waiting file cancelled never starts
    more = files.add([clip(STARS).path, clip(CARDS).path, clip(STARS).path])
    assert more[2].state is JobState.WAITING  # two at once
    files.cancel_all()
    assert [job.state for job in await files.wait(more)] == [JobState.CANCELLED] * 3
    assert not any(c.id == more[2].id and c.state is JobState.TRANSCRIBING for c in changes)


async def test_retry_a_failed_file(tmp_path: Path) -> None:
    files, _ = queue()
    later = tmp_path / "on a disk plugged in later.wav"
    (failed,) = await files.wait(files.add([later]))
    assert failed.state is JobState.FAILED and failed.error
    assert not files.retry(files.add([clip(CARDS).path])[0].id)  # not failed: no retry
    shutil.copy(clip(STARS).path, later)
    assert files.retry(failed.id)
    assert files.job(failed.id).state in (JobState.WAITING, JobState.TRANSCRIBING)
    (retried,) = await files.wait([failed])
    assert retried.state is JobState.DONE and retried.error == ""
    assert retried.transcript is not None and "stars" in retried.transcript.text.lower()


async def test_progress_events_rise_to_done(tmp_path: Path) -> None:
    files, changes = queue()
    (job,) = files.add([await long_file(tmp_path)])
    (done,) = await files.wait()
    mine = [change for change in changes if change.id == job.id]
    progress = [change.progress for change in mine if change.state is JobState.TRANSCRIBING]
    assert len(set(progress)) > 3 and progress == sorted(progress)  # several steps, rising
    # the length is known once decoded, before the first step of progress
    first_step = next(c for c in mine if c.progress > 0)
    assert first_step.duration == pytest.approx(done.duration) and done.duration > 40
    assert done.state is JobState.DONE and done.progress == 1.0
    assert done.transcript is not None and done.transcript.timings.decode_seconds > 0
