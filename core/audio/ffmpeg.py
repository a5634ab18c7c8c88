"""Finding and running ffmpeg: with a timeout, streaming its output, killable at any point.

pydub runs ffmpeg without a timeout and without a way to stop it mid-stream, so untrusted input
is decoded here; pydub is pointed at the same binary for encoding audio we generated ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voxdesk.core.audio.errors import DecoderMissing, DecodeTimeout

_READ_SIZE = 64 * 1024
_MAX_LOG_CHARS = 64 * 1024


@functools.cache
def ffmpeg_executable() -> str:
    """ffmpeg from PATH, else the static binary that the imageio-ffmpeg wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as error:
        raise DecoderMissing(
            "No ffmpeg was found to decode audio.",
            hint="Install ffmpeg (apt-get install ffmpeg) or the imageio-ffmpeg package.",
        ) from error


def configure_pydub() -> None:
    """Point pydub at our ffmpeg (it only looks on PATH, and warns when it finds none there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_executable()


class OutputLimitExceeded(Exception):
    """Raised internally when ffmpeg produced more bytes than allowed."""


@dataclass(frozen=True)
class FfmpegResult:
    returncode: int
    output: bytes
    log: str


async def run_ffmpeg(
    args: Sequence[str],
    *,
    time_limit: float,
    max_output: int | None = None,
    on_log_line: Callable[[str], None] | None = None,
) -> FfmpegResult:
    """Run ffmpeg with ``args`` and collect stdout.

    ``on_log_line`` sees each stderr line as it arrives and may raise to abort the run;
    exceeding ``max_output`` bytes raises ``OutputLimitExceeded``. The process is killed on
    any error, on timeout and on cancellation, so it never outlives the call.
    """
    process = await asyncio.create_subprocess_exec(
        ffmpeg_executable(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    log_lines: list[str] = []
    try:
        async with asyncio.timeout(time_limit):
            output, _ = await asyncio.gather(
                _read_output(process.stdout, max_output),
                _read_log(process.stderr, log_lines, on_log_line),
            )
            returncode = await process.wait()
    except TimeoutError:
        raise DecodeTimeout(
            f"Decoding took longer than {time_limit:g} s and was stopped.",
            hint="The file may be damaged; if it is just long, raise audio.decode_timeout.",
        ) from None
    finally:
        await _reap(process)
    return FfmpegResult(returncode, output, "\n".join(log_lines)[-_MAX_LOG_CHARS:])


async def _read_output(stream: asyncio.StreamReader, limit: int | None) -> bytes:
    chunks = bytearray()
    while chunk := await stream.read(_READ_SIZE):
        chunks += chunk
        if limit is not None and len(chunks) > limit:
            raise OutputLimitExceeded
    return bytes(chunks)


async def _read_log(
    stream: asyncio.StreamReader,
    lines: list[str],
    on_line: Callable[[str], None] | None,
) -> None:
    while raw := await stream.readline():
        line = raw.decode("utf-8", "replace").rstrip()
        lines.append(line)
        if on_line:
            on_line(line)


async def _reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    # Shielded: a cancelled caller must still not leave a zombie behind.
    await asyncio.shield(process.wait())
