"""Speech commands: transcribe files, speak text, record the microphone, list devices."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from voxdesk.core.audio import (
    FileSource,
    Level,
    Pcm,
    RawFormat,
    list_input_devices,
    measure,
    record,
)
from voxdesk.core.audio.decode import SampleFormat
from voxdesk.core.audio.sources import MicrophoneSource
from voxdesk.core.cli.context import CliContext, get_context, user_errors
from voxdesk.core.cli.outputs import check_file, check_folder, names_folder
from voxdesk.core.config.settings import TtsSettings
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import EventBus, VoiceChanged
from voxdesk.core.stt import ENGINES, SpeechService
from voxdesk.core.stt.base import word_gap
from voxdesk.core.stt.formats import CueLimits, OutputFormat, render
from voxdesk.core.stt.queue import JobListener, JobState, TranscriptionJob, TranscriptionQueue
from voxdesk.core.stt.streaming import (
    LiveTranscriber,
    LiveUpdate,
    live_transcriber,
    transcribe_live,
)
from voxdesk.core.tts import (
    TTS_ENGINES,
    LanguageNotSpoken,
    Speech,
    SpeechFormat,
    create_synthesizer,
    create_voice,
)
from voxdesk.core.tts.base import check_text
from voxdesk.core.tts.languages import SpokenLanguage

_RAW_SUFFIXES = {".raw", ".pcm"}
_SPEECH_FORMATS: dict[str, SpeechFormat] = {
    ".ogg": "ogg",
    ".opus": "ogg",
    ".mp3": "mp3",
    ".wav": "wav",
}

EngineOption = Annotated[
    str | None, typer.Option("--engine", "-e", help=f"One of {', '.join(ENGINES)}.")
]
LanguageOption = Annotated[
    str | None, typer.Option("--language", "-l", help="e.g. ru-RU, en; 'auto' to detect.")
]


def transcribe(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        # readable=False: click's own check is a box and status 2; ours is one line
        typer.Argument(help="Audio files (anything ffmpeg reads).", readable=False),
    ],
    engine: EngineOption = None,
    language: LanguageOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="txt, srt, vtt or json.")
    ] = "txt",
    output: Annotated[
        str | None,  # not a Path, which drops the trailing slash of "out/"
        typer.Option(
            "--output",
            "-o",
            metavar="<path>",  # as a Path option shows; a str keeps the trailing /
            help="File to write; a folder (made if need be) for several inputs or with a "
            "trailing /, each transcript named after its input.",
        ),
    ] = None,
    raw: Annotated[
        str | None,
        typer.Option(help="Headerless PCM as RATE[:CHANNELS[:FORMAT]], e.g. 16000:1:s16le."),
    ] = None,
    max_line_length: Annotated[
        int | None,
        typer.Option(min=1, help="srt/vtt: characters per line (2 lines a cue), cut at words."),
    ] = None,
    max_cue_seconds: Annotated[
        float | None,
        typer.Option(min=0.1, help="srt/vtt: longest time a cue stays, cut between words."),
    ] = None,
    translate: Annotated[
        bool,
        typer.Option("--translate", help="English text, whatever the language (whisper, openai)."),
    ] = False,
) -> None:
    """Transcribe audio files, or translate them to English, with a progress bar for each.

    Several run at once (speech.parallel_files).
    A bad file does not stop the others; the exit status is 1 at the end.
    JSON, and subtitles with a line or cue limit, time each word (Whisper): slower on short clips.
    """
    cli = get_context(ctx)
    with user_errors(cli.console):
        fmt = _output_format(output_format)
        limits = CueLimits(max_line_length, max_cue_seconds)
        words = fmt == "json" or (fmt in ("srt", "vtt") and bool(limits))
        raw_format = _raw_format(raw) if raw else None
        service = SpeechService(cli.settings, cli.secrets)
        # an unknown engine or language, or one that cannot translate: before any decoding
        service.check(engine, language, translate=translate)
        unusable = _unusable_inputs(files, raw_format)  # before any work
        targets = _targets(files, output, fmt) if output is not None else {}
        unwritten: dict[int, str] = {}

        def keep(job: TranscriptionJob) -> None:
            assert job.transcript is not None
            text = render(job.transcript, fmt, limits)
            try:
                _write(text, job.path, fmt, targets.get(job.path), len(files), cli)
            except VoxdeskError as error:  # the text went to the terminal; the others go on
                unwritten[job.id] = user_message(error)

        usable = [path for path in files if path not in unusable]
        options = QueueOptions(engine, language, raw_format, words, translate)
        jobs = asyncio.run(_transcribe_all(service, usable, options, cli.console, keep))
        failed = {job.path: job.error for job in jobs if job.state is not JobState.DONE}
        failed |= unusable | {job.path: unwritten[job.id] for job in jobs if job.id in unwritten}
        if len(files) == 1 and failed:
            raise VoxdeskError(failed[files[0]])
        if len(files) > 1:
            cli.console.print(_summary(files, jobs, failed))
        if failed:
            raise typer.Exit(1)


@dataclass(frozen=True)
class QueueOptions:
    engine: str | None
    language: str | None
    raw: RawFormat | None
    words: bool
    translate: bool


async def _transcribe_all(
    service: SpeechService,
    paths: list[Path],
    options: QueueOptions,
    console: Console,
    done: JobListener,
) -> list[TranscriptionJob]:
    """The core queue, a bar a file; ``done`` gets each file as it is transcribed."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    queue = TranscriptionQueue(service)
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        bars: dict[int, TaskID] = {}

        def show(job: TranscriptionJob) -> None:
            if job.id not in bars:
                bars[job.id] = bar.add_task("", total=1.0)
            state = "translating" if options.translate and not job.finished else job.state
            description = f"{escape(job.name)} [dim]{state}[/]"
            bar.update(bars[job.id], completed=job.progress, description=description)
            if job.state is JobState.DONE:
                done(job)

        queue.subscribe(show)
        jobs = queue.add(
            paths, engine=options.engine, language=options.language, raw=options.raw,
            words=options.words, translate=options.translate,
        )  # fmt: skip
        try:
            return await queue.wait(jobs)
        finally:
            await queue.close()  # Ctrl+C: the files under way stop


def _unusable_inputs(files: list[Path], raw: RawFormat | None) -> dict[Path, str]:
    """Inputs that cannot be transcribed, and why. One file alone: its one-line error."""
    unusable = {}
    for path in files:
        try:
            _check_input(path)
            _check_raw(path, raw)
        except VoxdeskError as error:
            if len(files) == 1:
                raise
            unusable[path] = user_message(error)
    return unusable


def _summary(files: list[Path], jobs: list[TranscriptionJob], failed: dict[Path, str]) -> Table:
    by_path = {job.path: job for job in jobs}
    table = Table("file", "status", "length", "time", "engine", "problem",
                  title=f"{len(files) - len(failed)} of {len(files)} transcribed")  # fmt: skip
    for path in files:
        job = by_path.get(path)
        timings = job.transcript.timings if job and job.transcript else None
        table.add_row(
            escape(path.name),
            "[red]failed[/]" if path in failed else "done",
            f"{job.duration:.1f} s" if job and job.duration is not None else "",
            f"{timings.decode_seconds + timings.transcribe_seconds:.1f} s" if timings else "",
            escape(f"{job.engine} {job.model}".strip()) if job else "",
            escape(failed.get(path, "")),
        )  # fmt: skip
    return table


def speak(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to say.")],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="<path>",  # as a Path option shows; a str keeps the trailing /
            help="Audio file: .ogg, .opus, .mp3 or .wav (none: tts.format).",
        ),
    ],
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine", "-e", help=f"Only this voice, no fallbacks: {', '.join(TTS_ENGINES)}."
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language", "-l", help="e.g. ru, en; auto: the text's own (default: tts.language)."
        ),
    ] = None,
) -> None:
    """Speak text into an audio file: the preferred voice, or the next that can speak; with
    --engine, that voice or why it cannot."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        text = check_text(text)
        path, output_format = _speech_file(output, cli.settings.tts.format)
        speech = asyncio.run(_speak(text, engine, language, output_format, cli))
        try:
            path.write_bytes(speech.data)
        except OSError as error:  # a read-only file of that name, a full disk
            raise VoxdeskError(
                f"Cannot write to {path}: {error.strerror or error}.",
                hint="Choose an -o path you can write to.",
            ) from None
        cli.console.print(
            f"Wrote {path} ({output_format}, {len(speech.data)} bytes, {speech.engine})."
        )


def _speech_file(output: str, default: SpeechFormat) -> tuple[Path, SpeechFormat]:
    """The file ``speak -o`` writes and its format, from its extension (none: ``default``)."""
    path = Path(output)
    if names_folder(output):
        raise VoxdeskError(
            f"{output} is a folder: speak writes one audio file.",
            hint=f"Name the file, e.g. -o {path / 'speech.ogg'}.",
        )
    suffix = path.suffix.lower()
    if suffix and suffix not in _SPEECH_FORMATS:
        raise VoxdeskError(
            f"speak cannot write {suffix} files.",
            hint=f"Name the file {', '.join(_SPEECH_FORMATS)}, e.g. -o {path.with_suffix('.ogg')}.",
        )
    check_file(path)
    return path, _SPEECH_FORMATS.get(suffix, default)


async def _speak(
    text: str, engine: str | None, language: str | None, output: SpeechFormat, cli: CliContext
) -> Speech:
    """The preference of voices; a plain line when another than the preferred one spoke (the
    bot's log warning, with its time stamp, is no news to someone who speaks one text)."""
    settings = cli.settings.tts
    if engine is not None:
        return await _speak_only(engine, text, language, output, settings)
    events = EventBus()
    changes = events.subscribe(VoiceChanged)
    chain = create_voice(settings, events, warn=False)
    speech = await chain.synthesize(text, language=language or settings.language, output=output)
    if (change := changes.get_nowait()) is not None:
        cli.console.print(f"Spoke with {change.engine}: {change.reason}.", markup=False)
    return speech


async def _speak_only(
    engine: str, text: str, language: str | None, output: SpeechFormat, settings: TtsSettings
) -> Speech:
    """The voice asked for, or why it cannot speak: no other voice in its place."""
    voice = create_synthesizer(engine, piper_voice=settings.piper_voice)
    spoken = await SpokenLanguage().of(text, language or settings.language)
    try:
        return await voice.synthesize(text, language=spoken, output=output)
    except LanguageNotSpoken as error:
        if language is not None:
            raise
        # the language came from the settings, which the user may not know of
        hint = f"tts.language is '{settings.language}' ('{spoken}' here); -l chooses another."
        raise LanguageNotSpoken(str(error), hint=f"{hint} {error.hint or ''}".strip()) from None


def record_command(
    ctx: typer.Context,
    seconds: Annotated[
        float, typer.Option("--seconds", "-s", min=0.5, help="How long to record.")
    ] = 5.0,
    transcribe_after: Annotated[
        bool, typer.Option("--transcribe", help="Transcribe the recording.")
    ] = False,
    live: Annotated[
        bool,
        typer.Option("--live", help="Transcribe while recording (whisper): words as they come."),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Save the recording as WAV.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="Input device name or index.")] = None,
    engine: EngineOption = None,
    language: LanguageOption = None,
    translate: Annotated[
        bool, typer.Option("--translate", help="Transcribe into English, from any language.")
    ] = False,
    from_file: Annotated[
        Path | None, typer.Option(hidden=True, help="Play this file as the microphone (testing).")
    ] = None,
) -> None:
    """Record the microphone with a live level meter; transcribe (or translate) it live or after."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        service = SpeechService(cli.settings, cli.secrets)
        device = device or cli.settings.audio.input_device
        if translate:
            service.check(engine, language, translate=True)  # before recording, not after
        if output:
            check_file(output)  # before recording, not after
        if live:
            stream = live_transcriber(
                service.transcriber(engine),
                language=language or cli.settings.speech.language,
                translate=translate,
            )
            audio = asyncio.run(_record_live(service, stream, seconds, device, from_file, cli.out))
        else:
            audio = asyncio.run(_record(service, seconds, device, from_file, cli.console))
        if output:
            output.write_bytes(audio.to_wav())
            cli.console.print(f"Saved {audio.duration:.1f} s to {output}.")
        if transcribe_after and not live:
            transcript = asyncio.run(
                service.transcribe_pcm(audio, engine=engine, language=language, translate=translate)
            )
            cli.out.print(transcript.text or "(no speech heard)", highlight=False)


async def _source(
    service: SpeechService, device: str | None, from_file: Path | None
) -> FileSource | MicrophoneSource:
    if from_file is not None:
        return FileSource(await service.decode(from_file), realtime=False)
    return MicrophoneSource(int(device) if device and device.isdigit() else device)


async def _record(
    service: SpeechService,
    seconds: float,
    device: str | None,
    from_file: Path | None,
    console: Console,
) -> Pcm:
    source = await _source(service, device, from_file)
    blocks: list[Pcm] = []
    # A Live display on a pipe would only print stray lines.
    live = Live(console=console, transient=True) if console.is_terminal else None
    with live or nullcontext():
        async for block in record(source, seconds):
            blocks.append(block)
            if live is not None:
                live.update(_meter(measure(block), sum(b.duration for b in blocks), seconds))
    return Pcm.concatenate(blocks, source.sample_rate)


async def _record_live(
    service: SpeechService,
    stream: LiveTranscriber,
    seconds: float,
    device: str | None,
    from_file: Path | None,
    out: Console,
) -> Pcm:
    source = await _source(service, device, from_file)
    blocks: list[Pcm] = []

    async def captured() -> AsyncIterator[Pcm]:
        async for block in record(source, seconds):
            blocks.append(block)
            yield block

    with _LivePrinter(out) as printer:
        async for update in transcribe_live(captured(), stream):
            printer.show(update)
    return Pcm.concatenate(blocks, source.sample_rate)


class _LivePrinter:
    """Final words on stdout as they come, one utterance a line; on a terminal, the line still
    being said is a status line below, with its partial guess dimmed."""

    def __init__(self, out: Console) -> None:
        self._out = out
        self._line = ""  # the final words of the utterance going on
        # A status line on a pipe would only print stray lines.
        self._status = Live(console=out, transient=True) if out.is_terminal else None

    def __enter__(self) -> _LivePrinter:
        if self._status is not None:
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()
        if self._line and self._status is None:
            self._out.print(highlight=False)

    def show(self, update: LiveUpdate) -> None:
        words = word_gap(self._line, update.final_text) + update.final_text
        self._line += words
        if self._status is None:
            self._out.print(words, end="\n" if update.ended else "", highlight=False, markup=False)
        elif update.ended:
            self._status.console.print(self._line, highlight=False, markup=False)
        if update.ended:
            self._line = ""
        if self._status is not None:
            self._status.update(Text.assemble(self._line, " ", (update.partial_text, "dim")))


def _meter(level: Level, done: float, seconds: float) -> str:
    bar = "█" * int(level.fraction * 30)
    return f"Recording {done:4.1f}/{seconds:g} s  {bar:<30} {level.rms_dbfs:6.1f} dBFS"


def devices(ctx: typer.Context) -> None:
    """List the microphones (audio inputs) that can be recorded from."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        found = list_input_devices()
        if not found:
            raise VoxdeskError("No audio input devices were found.", hint="Connect a microphone.")
        table = Table("index", "name", "channels", "rate", "default")
        for item in found:
            table.add_row(
                str(item.index),
                item.name,
                str(item.channels),
                f"{item.default_sample_rate:g}",
                "✓" if item.is_default else "",
            )
        cli.out.print(table)


def _output_format(value: str) -> OutputFormat:
    formats: dict[str, OutputFormat] = {"txt": "txt", "srt": "srt", "vtt": "vtt", "json": "json"}
    if value not in formats:
        raise VoxdeskError(f"Unknown output format '{value}'.", hint="Use txt, srt, vtt or json.")
    return formats[value]


def _raw_format(spec: str) -> RawFormat:
    parts = spec.split(":")
    try:
        rate = int(parts[0])
        channels = int(parts[1]) if len(parts) > 1 else 1
    except ValueError:
        raise VoxdeskError(
            f"Cannot read the raw format '{spec}'.", hint="Write it as 16000:1:s16le."
        ) from None
    sample_format = parts[2] if len(parts) > 2 else "s16le"
    formats: dict[str, SampleFormat] = {f: f for f in get_args(SampleFormat)}
    if sample_format not in formats:
        raise VoxdeskError(
            f"Unknown sample format '{sample_format}'.", hint=f"Use one of {', '.join(formats)}."
        )
    return RawFormat(rate, channels, formats[sample_format])


def _check_raw(path: Path, raw: RawFormat | None) -> None:
    if raw is None and path.suffix.lower() in _RAW_SUFFIXES:
        raise VoxdeskError(
            f"{path.name} looks like headerless PCM, which does not describe its own format.",
            hint="State it with --raw, e.g. --raw 16000:1:s16le.",
        )


def _check_input(path: Path) -> None:
    """Only a regular file that can be read: a pipe would read as empty, and ffmpeg needs to
    seek in some formats."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise VoxdeskError(f"{path}: no such file.") from None
    except OSError as error:
        raise VoxdeskError(f"{path} cannot be read: {error.strerror}.") from None
    if stat.S_ISDIR(mode):
        raise VoxdeskError(f"{path} is a folder, not an audio file.")
    if not stat.S_ISREG(mode):
        raise VoxdeskError(
            f"{path} is a pipe or device, not a file: audio is transcribed from files.",
            hint="Save the audio to a file first (e.g. ... > take.ogg) and transcribe that.",
        )
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise VoxdeskError(
            f"{path} cannot be read: {error.strerror}.", hint="Check the file's permissions."
        ) from None


def _targets(files: list[Path], output: str, fmt: OutputFormat) -> dict[Path, Path]:
    """The file each input's transcript goes to, checked before any work: no two inputs share
    one, its folder takes files, and it is none of the inputs."""
    folder = len(files) > 1 or names_folder(output)
    if folder:
        targets = {path: Path(output) / f"{path.stem}.{fmt}" for path in files}
    else:
        targets = {files[0]: Path(output)}
    _refuse_shared(targets)
    if folder:
        check_folder(Path(output))
    else:
        check_file(Path(output))
    for target in targets.values():
        if target.exists() and any(path.exists() and target.samefile(path) for path in files):
            raise VoxdeskError(
                f"{target} is one of the inputs: its transcript would overwrite it.",
                hint=f"Choose another -o {'folder' if folder else 'file'}.",
            )
    return targets


def _refuse_shared(targets: dict[Path, Path]) -> None:
    """Two inputs named alike (a.wav, a.ogg) would write one file: refused, since numbered or
    longer names would be names nobody asked for, and refusing costs no work yet."""
    by_target: dict[Path, Path] = {}
    for path, target in targets.items():
        other = by_target.setdefault(target, path)
        if other != path:
            raise VoxdeskError(
                f"{other} and {path} would both be written to {target}.",
                hint="Transcribe them into different -o folders, or rename one.",
            )


def _write(
    text: str, source: Path, fmt: OutputFormat, target: Path | None, count: int, cli: CliContext
) -> None:
    if target is None:
        if count > 1 and fmt == "txt":
            cli.out.print(f"[bold]{escape(source.name)}[/]")
        cli.out.print(text, end="", highlight=False, markup=False)
        return
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as error:
        cli.out.print(text, end="", highlight=False, markup=False)  # the work is not lost
        raise VoxdeskError(
            f"Cannot write {target}: {error.strerror or error}; the transcript went to the "
            "terminal instead.",
            hint="Choose an -o path you can write to.",
        ) from None
    cli.console.print(f"Wrote {target}.")
