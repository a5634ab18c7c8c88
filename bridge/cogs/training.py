"""Training from Discord: !train, !archive, !select_dataset, !instruction, !correct,
!feedback and !getfile. Training, export and instruction changes need the trainer role."""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import discord
import platformdirs
from discord.ext import commands

from voxdesk.bridge.attachments import read_capped
from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import MemberCooldown, is_trainer, trainer_only, trainers
from voxdesk.bridge.memory import ReplyMemory
from voxdesk.bridge.replies import prefix_of, split_message
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.training.findings import name_places
from voxdesk.core.training.job_request import JobOptions
from voxdesk.core.training.launch import (
    DEFAULT_VALIDATION_SHARE,
    FineTuneOrder,
    InvalidTrainingData,
    launch_fine_tune,
)
from voxdesk.core.training.transfer import export_jsonl
from voxdesk.core.training.validator import ValidationReport

log = logging.getLogger(__name__)
MAX_TRAINING_FILE = 50 * 1024 * 1024
SHOWN_FINDINGS = 8
SHOWN_FILES = 30
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
# "Copy Message Link": members see no message ids unless they turn on Developer Mode
_MESSAGE_LINK = re.compile(
    r"https://(?:\w+\.)?discord(?:app)?\.com/channels/(?:\d+|@me)/(?P<channel>\d+)/(?P<message>\d+)"
)
# where !train keeps attached files: ours, never the attachment's names
_ATTACHED_NAMES = ("attachment.jsonl", "attachment.validation.jsonl")


def exports_folder() -> Path:
    """The only folder !getfile serves from: files this app exported."""
    return platformdirs.user_data_path("voxdesk") / "exports"


class Training(commands.Cog):
    def __init__(self, bot: VoxBot, memory: ReplyMemory) -> None:
        self.bot = bot
        self.services = bot.services
        self.memory = memory  # the chat's replies, for !correct and !feedback
        self.settings = self.services.settings.discord
        self.cooldown = MemberCooldown(self.settings)  # !train and !archive cost money or CPU
        self.session: aiohttp.ClientSession | None = None
        self.followers: set[asyncio.Task[None]] = set()

    async def cog_load(self) -> None:
        self.session = aiohttp.ClientSession()

    async def cog_unload(self) -> None:
        for task in self.followers:
            task.cancel()
        if self.session:
            await self.session.close()

    def dataset_for(self, ctx: commands.Context[commands.Bot]) -> str:
        return str(self.settings.dataset_for(ctx.guild.id if ctx.guild else None))

    @commands.command()
    @trainer_only()
    async def train(self, ctx: commands.Context[commands.Bot], dataset: str | None = None) -> None:
        """Validate a dataset (or attached JSONL files: training, validation); start a fine-tune."""
        self.cooldown.check(ctx.author)
        # "typing…" while the file is validated and uploaded, which can take a while
        async with ctx.typing():
            await self._train(ctx, dataset)

    async def _train(self, ctx: commands.Context[commands.Bot], dataset: str | None) -> None:
        with tempfile.TemporaryDirectory(prefix="voxdesk-train-") as folder:
            order = await self._order(ctx, dataset, Path(folder))
            try:
                started = await launch_fine_tune(self.services, order)
            except InvalidTrainingData as invalid:
                await self._send(ctx, _problems(invalid.report))
                return
        job, report = started.job, started.report
        price = f" (estimated ${report.cost.dollars:,.2f})" if report.cost else ""
        await ctx.reply(f"Started fine-tuning job `{job.id}` on {report.examples} examples{price}. "
                        "I'll post here when it ends.")  # fmt: skip
        task = asyncio.create_task(self._announce_end(ctx.channel, job.id))
        self.followers.add(task)
        task.add_done_callback(self.followers.discard)

    async def _order(
        self, ctx: commands.Context[commands.Bot], dataset: str | None, folder: Path
    ) -> FineTuneOrder:
        """A dataset with a share held out to validate, or attached files: training, validation."""
        attached = ctx.message.attachments
        # Any other file (a CSV, a .json) must not quietly start a paid job on the dataset instead.
        wrong = [a.filename for a in attached if not a.filename.lower().endswith(".jsonl")]
        if wrong or len(attached) > len(_ATTACHED_NAMES):
            raise VoxdeskError(
                f"I train on one or two attached .jsonl files (training, then validation), "
                f"not {', '.join(wrong) or f'{len(attached)} files'}.",
                hint=f"Attach JSONL files (`{self.settings.prefix}archive` sends one to start "
                "from), or none to train on this server's dataset.",
            )
        if attached and dataset:
            raise VoxdeskError("Give a dataset name or attach files, not both.")
        if not attached:
            name = dataset or self.dataset_for(ctx)
            options = JobOptions(self.settings.fine_tune_model, suffix=_suffix(name))
            return FineTuneOrder(options, name, validation_share=DEFAULT_VALIDATION_SHARE)
        assert self.session is not None
        paths = []
        for attachment, name in zip(attached, _ATTACHED_NAMES, strict=False):
            path = folder / name
            data = await read_capped(self.session, attachment, MAX_TRAINING_FILE)
            await asyncio.to_thread(path.write_bytes, data)
            paths.append(path)
        options = JobOptions(self.settings.fine_tune_model, suffix=_suffix("attachment"))
        return FineTuneOrder(options, training_file=paths[0],
                             validation_file=paths[1] if len(paths) > 1 else None)  # fmt: skip

    async def _announce_end(self, channel: discord.abc.Messageable, job_id: str) -> None:
        try:
            async for update in self.services.fine_tuner.follow(job_id):
                job = update.job
        except VoxdeskError as error:
            await channel.send(f"I lost track of job `{job_id}`: {user_message(error)}")
            return
        if job.status == "succeeded":
            await channel.send(f"Fine-tune `{job.id}` succeeded: `{job.fine_tuned_model}`. "
                               "The operator can make it the reply model.")  # fmt: skip
        else:
            await channel.send(f"Fine-tune `{job.id}` {job.status}: {job.error or 'no details'}.")

    @commands.command()
    @trainer_only()
    async def archive(
        self, ctx: commands.Context[commands.Bot], dataset: str | None = None
    ) -> None:
        """The dataset's approved examples as JSONL: training, and validation if held out."""
        self.cooldown.check(ctx.author)
        name = dataset or self.dataset_for(ctx)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:60] or "dataset"
        target = exports_folder() / f"{safe}-{stamp}.jsonl"
        result = await export_jsonl(self.services.datasets, name, target)
        said = f"'{name}': {result.summary()}."
        too_big = _over_upload_limit(ctx, result.files)
        if too_big:
            await ctx.reply(f"{said} {too_big}")
            return
        files = [discord.File(path, filename=path.name) for path in result.files]
        await ctx.reply(said, files=files)

    @commands.command(name="select_dataset")
    @trainer_only()
    async def select_dataset(self, ctx: commands.Context[commands.Bot], name: str) -> None:
        """Choose the dataset that corrections, feedback and !train use."""
        known = [dataset.name for dataset in await self.services.datasets.datasets()]
        if name not in known:
            choices = ", ".join(f"`{n}`" for n in known) or "none yet"
            await self._send(ctx, f"There is no dataset '{name}'. Datasets: {choices}.")
            return
        chosen = {**self.settings.guild_datasets, str(ctx.guild.id if ctx.guild else 0): name}
        await self.services.settings_store.set("discord.guild_datasets", chosen)
        await ctx.reply(f"Corrections and feedback now go to '{name}'.")

    @commands.command(aliases=["help"])  # help_command is None: !help would be met by silence
    async def instruction(self, ctx: commands.Context[commands.Bot], action: str | None = None, *,
                          text: str | None = None) -> None:  # fmt: skip
        """Show how to use me; trainers: !instruction set <text> | reset."""
        if action is None or ctx.invoked_with == "help":
            await self._send(ctx, help_text(self.settings.prefix))
            return
        if ctx.guild is None:
            raise commands.NoPrivateMessage  # roles exist only in a server
        if not isinstance(ctx.author, discord.Member) or not is_trainer(
            ctx.author, self.settings.trainer_role
        ):
            role = trainers(self.settings.trainer_role)
            raise commands.CheckFailure(f"Changing my instruction needs {role}.")
        if action == "set" and text:
            new, answer = text, "Instruction updated."
        elif action == "reset":
            new, answer = None, "Instruction reset to the default."
        else:
            prefix = self.settings.prefix
            raise commands.BadArgument(
                f"Use `{prefix}instruction set <text>` or `{prefix}instruction reset`."
            )
        await self.services.settings_store.set("assistant.system_prompt", new)
        await ctx.reply(answer)

    @commands.command(usage="<message id or link> <better answer>")
    async def correct(
        self, ctx: commands.Context[commands.Bot], message: str, *, correction: str
    ) -> None:
        """Correct one of my replies: it becomes a training example for review."""
        place = _message_place(message, ctx.channel.id)
        channel = self._channel_here(ctx, place[0]) if place else None
        if place is None or channel is None:
            await ctx.reply("Give the id or link of one of my replies here (right-click it → "
                            "Copy Message Link), then the better answer.")  # fmt: skip
            return
        try:
            mine = await channel.fetch_message(place[1])
        except discord.NotFound:
            await ctx.reply("There is no message with that id in this channel.")
            return
        if self.bot.user is None or mine.author.id != self.bot.user.id:
            await ctx.reply("That is not one of my replies.")
            return
        conversation = await self._prompt_of(mine)
        if not conversation:
            await ctx.reply("I can't find the question that reply answered.")
            return
        dataset = self.dataset_for(ctx)
        example = await self.services.datasets.add_correction(
            dataset, conversation=conversation, wrong_reply=mine.content,
            corrected_reply=correction, metadata=_discord_metadata(ctx, mine.id, mine.channel.id),
        )  # fmt: skip
        await ctx.reply(f"Thanks! Saved as candidate #{example} in '{dataset}' for review.")

    @commands.command()
    async def feedback(self, ctx: commands.Context[commands.Bot], *, text: str) -> None:
        """Tell the operator what you think of my last answer to you."""
        conversation = self.memory.last_exchange(ctx.channel.id, ctx.author.id)
        if not conversation:  # an example without messages: nothing to review, nor to learn
            prefix = prefix_of(ctx)
            await ctx.reply("I haven't answered you in this channel lately, so there is no answer "
                            f"to attach that to: ask me something first, or `{prefix}correct` one "
                            "of my replies by its link.")  # fmt: skip
            return
        dataset = self.dataset_for(ctx)
        example = await self.services.datasets.add_feedback(
            dataset, conversation=conversation, feedback=text,
            metadata=_discord_metadata(ctx, ctx.message.id),
        )  # fmt: skip
        await ctx.reply(f"Thanks for the feedback (#{example} in '{dataset}').")

    @commands.command()
    @trainer_only()
    async def getfile(self, ctx: commands.Context[commands.Bot], name: str | None = None) -> None:
        """List the files the app exported, or send one by its name."""
        folder = exports_folder()
        found = [p for p in folder.glob("*") if p.is_file()] if folder.is_dir() else []
        # oldest first: the newest, those asked for, are the listing's end
        files = [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]
        if name is None:
            listing = "\n".join(f"`{f}`" for f in files[-SHOWN_FILES:]) or "No exported files yet."
            if len(files) > SHOWN_FILES:
                listing += f"\n(the {SHOWN_FILES} newest of {len(files)})"
            await self._send(ctx, listing)
            return
        if not _SAFE_NAME.fullmatch(name) or ".." in name:
            await ctx.reply(
                f"That looks like a path. Give a file name from `{prefix_of(ctx)}getfile`."
            )
            return
        if name not in files:
            await ctx.reply(
                f"There is no exported file '{name}'. `{prefix_of(ctx)}getfile` lists them."
            )
            return
        too_big = _over_upload_limit(ctx, [folder / name])
        if too_big:
            await ctx.reply(f"'{name}': {too_big}")
            return
        await ctx.reply(file=discord.File(folder / name, filename=name))

    def _channel_here(
        self, ctx: commands.Context[commands.Bot], channel_id: int
    ) -> discord.abc.Messageable | None:
        """The channel of a message !correct names: this one, or another of this server that
        its author may read (the bot reads channels its members may not)."""
        if channel_id == ctx.channel.id:
            return ctx.channel
        found = self.bot.get_channel(channel_id)
        here = ctx.guild is not None and getattr(found, "guild", None) == ctx.guild
        if not here or not isinstance(found, discord.abc.GuildChannel):
            return None
        seen = (
            isinstance(ctx.author, discord.Member)
            and found.permissions_for(ctx.author).view_channel
        )
        return found if seen and isinstance(found, discord.abc.Messageable) else None

    async def _prompt_of(self, reply: discord.Message) -> list[dict[str, Any]]:
        remembered = self.memory.prompt_of(reply.id)
        if remembered:
            return remembered
        reference = reply.reference
        if reference is None or reference.message_id is None:
            return []
        try:
            question = await reply.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return []
        # a voice message has no text: its transcript was only remembered with the reply
        return [{"role": "user", "content": question.content}] if question.content else []

    async def _send(self, ctx: commands.Context[commands.Bot], text: str) -> None:
        for piece in split_message(text):
            await ctx.send(piece)


def help_text(prefix: str) -> str:
    """What !instruction and !help show, with the prefix the bot answers to."""
    text = importlib.resources.files("voxdesk.resources").joinpath("prompts/instruction.md")
    return text.read_text("utf-8").replace("`!", f"`{prefix}")


def _problems(report: ValidationReport) -> str:
    lines = [f"The training data has errors ({report.examples} examples), so no job was started:"]
    lines += [f"• {code}: {count}" for code, count in report.format_errors.items()]
    lines.append(name_places(report.errors, SHOWN_FINDINGS))
    return "\n".join(lines)


def _over_upload_limit(ctx: commands.Context[commands.Bot], paths: list[Path]) -> str | None:
    """Why Discord would refuse these files here (it answers 413), or None if they fit."""
    size = sum(path.stat().st_size for path in paths)
    limit = ctx.guild.filesize_limit if ctx.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    if size <= limit:
        return None
    return (f"At {size / 2**20:.1f} MiB that is more than the {limit / 2**20:.0f} MiB Discord lets "
            "me send here: the operator finds it in Voxdesk's exports folder.")  # fmt: skip


def _message_place(given: str, channel_id: int) -> tuple[int, int] | None:
    """(channel id, message id) from a message's id (in ``channel_id``) or its link."""
    if given.isdigit():
        return channel_id, int(given)
    link = _MESSAGE_LINK.fullmatch(given.strip("<>"))
    return (int(link["channel"]), int(link["message"])) if link else None


def _suffix(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", name.lower())[:40] or "voxdesk"


def _discord_metadata(
    ctx: commands.Context[commands.Bot], message_id: int, channel_id: int | None = None
) -> dict[str, Any]:
    """Where the example came from: the message (in ``channel_id``, else the command's
    channel) and who gave it."""
    return {"discord": {"guild_id": ctx.guild.id if ctx.guild else None,
                        "channel_id": channel_id or ctx.channel.id, "message_id": message_id,
                        "author": str(ctx.author)}}  # fmt: skip


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Training(bot, bot.memory))
