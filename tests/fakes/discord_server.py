"""A loopback Discord for the real discord.py client: REST v10 and the gateway, on 127.0.0.1.

One guild with text and voice channels, a trainer, a plain member and a moderator, and each
user's direct-message channel with the bot (no guild: discord.py makes a DMChannel). Tests act
as Discord's users do (post a message, a voice message, use a context menu) and wait for what
the bot sends back. The gateway keeps every dispatch with its sequence number, so a client that
RESUMEs after a dropped socket gets what it missed. REST traffic is recorded and checked against
Discord's OpenAPI spec; 429s with retry-after can be injected.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.openapi import Exchange, OpenApiSpec

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.Gvoxdx.loopback-discord-test-token-0000"
# Another bot's token, for tests of two bots side by side; the fake answers it as the same bot.
OTHER_TOKEN = "MjAyMDIwMjAyMDIwMjAyMDIw.Gvoxdx.loopback-discord-test-token-0001"
TOKENS = (TOKEN, OTHER_TOKEN)
SPEC = Path(__file__).parents[1] / "data" / "specs" / "discord-openapi.json"
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
EPHEMERAL = 1 << 6  # a message flag: only the user who called the command sees it
HEARTBEAT_MS = 500  # Discord says ~41 s; short here so tests see heartbeats and ACKs
# Discord's answer to a reply whose message it does not have (fail_if_not_exists left true).
# Its field errors carry string codes ("REPLIES_UNKNOWN_MESSAGE") where the OpenAPI spec says
# integers: they are left out, which the spec allows.
_UNKNOWN_REFERENCE = {"code": 50035, "message": "Invalid Form Body"}
MESSAGE_LIMIT = 2000  # characters of a message's content; Discord refuses more (400/50035)
_TOO_LONG = {"code": 50035, "message": "Invalid Form Body"}
DISCORD_EPOCH_MS = 1_420_070_400_000  # 2015-01-01, where snowflake times count from


def _json(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with the bare content type: discord.py parses bodies only for exactly this one."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(payload).encode(), status=status, headers=all_headers)


def _stamp() -> str:
    return datetime.now(UTC).isoformat()


def discord_spec() -> OpenApiSpec:
    spec = OpenApiSpec.load(SPEC, "/api/v10")
    # Discord takes snowflakes as JSON numbers too (discord.py sends them so in requests);
    # its spec lists only strings. Answers from the fake still have to be strings.
    snowflake = spec.document["components"]["schemas"]["SnowflakeType"]
    if "anyOf" not in snowflake:
        spec.document["components"]["schemas"]["SnowflakeType"] = {
            "anyOf": [snowflake, {"type": "integer", "minimum": 0}]
        }
        spec.refresh()
    return spec


@dataclass
class FakeUser:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    bot: bool = False

    def json(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.name, "discriminator": "0",
                "global_name": self.name, "avatar": None, "bot": self.bot,
                "public_flags": 0, "flags": 0, "primary_guild": None}  # fmt: skip

    def member(self, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles], "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False, "mute": False, "nick": None, "flags": 0, "pending": False,
            "premium_since": None, "avatar": None, "communication_disabled_until": None,
        }  # fmt: skip
        if with_user:
            data["user"] = self.json()
        return data


class FakeDiscord:
    def __init__(self) -> None:
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.guild_id = self.new_id()
        self.application_id = self.new_id()
        trainer_role, mod_role, bot_role = self.new_id(), self.new_id(), self.new_id()
        self.roles = [
            {"id": str(self.guild_id), "name": "@everyone", "permissions": str(1 << 11 | 1 << 10)},
            {"id": str(trainer_role), "name": "Trainer", "permissions": "0"},
            {"id": str(mod_role), "name": "Moderator", "permissions": str(MANAGE_GUILD)},
            {"id": str(bot_role), "name": "Voxdesk", "permissions": str(ADMINISTRATOR)},
        ]
        self.bot = FakeUser(self.application_id, "voxdesk-bot", [bot_role], bot=True)
        self.trainer = FakeUser(self.new_id(), "alice", [trainer_role])
        self.member = FakeUser(self.new_id(), "bob")
        self.moderator = FakeUser(self.new_id(), "carol", [mod_role])
        self.users = {u.id: u for u in (self.bot, self.trainer, self.member, self.moderator)}
        self.general, self.chat, self.voice = self.new_id(), self.new_id(), self.new_id()
        self.voice_states: dict[int, int | None] = {}  # user id -> voice channel id
        self.dms: dict[int, int] = {}  # user id -> their direct-message channel with the bot
        self.created_channels: list[dict[str, Any]] = []  # by create_voice_channel
        self.voice_endpoint: str | None = None  # host:port of a FakeVoiceServer, when attached
        self.bot_deafened = False
        self.forbidden_channels: set[int] = set()  # where the bot may not post (403/50013)
        self.locked_voice: set[int] = set()  # voice channels the bot may not Connect to
        self.messages: dict[int, dict[str, Any]] = {}
        self.bot_messages: list[dict[str, Any]] = []  # created or edited by the bot, in order
        self.interaction_responses: list[dict[str, Any]] = []
        self.interaction_channels: dict[str, int] = {}  # token -> where it was used
        self.interaction_kinds: dict[str, int] = {}  # token -> 2 command, 4 autocomplete
        self.late_tokens: set[str] = set()  # answered after Discord's 3 s: gone
        self.interaction_answers: dict[str, dict[str, Any]] = {}  # token -> the bot's response
        self.original_responses: dict[str, dict[str, Any]] = {}  # token -> the message it made
        self.deferrals: dict[str, int] = {}  # token -> flags of a deferral no follow-up completed
        self.commands: list[dict[str, Any]] = []  # registered, as the last bulk overwrite left them
        self.cdn: dict[str, bytes] = {}
        self.exchanges: list[Exchange] = []
        self.rate_limits: list[tuple[str, float]] = []  # (path start, retry after)
        self.rate_limited = 0
        self.changed = asyncio.Condition()
        self.events: list[dict[str, Any]] = []  # every dispatch, for RESUME
        self.sockets: list[web.WebSocketResponse] = []
        self.session_id = "fake-session-0001"
        self.identifies = 0
        self.heartbeats = 0
        self.heartbeat = asyncio.Event()  # set at each heartbeat
        self.resumes = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def new_id(self) -> int:
        return next(self._ids)

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._gate], client_max_size=64 * 1024 * 1024)
        api = "/api/v10"
        routes = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/gateway", self._gateway_url),
            ("GET", "/gateway/bot", self._gateway_url),
            ("POST", "/channels/{channel}/messages", self._create_message),
            ("GET", "/channels/{channel}/messages/{message}", self._get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._edit_message),
            ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._no_content),
            ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._no_content),
            ("POST", "/channels/{channel}/typing", self._no_content),
            ("POST", "/users/@me/channels", self._open_dm),
            ("POST", "/interactions/{id}/{token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/@original", self._original_response),
            ("PUT", "/applications/{app}/commands", self._sync_commands),
        ]  # fmt: skip
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_get("/gateway/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway/ws"

    def point_client_here(self, monkeypatch: Any = None) -> None:
        """Send discord.py's REST calls and gateway connection to this server.

        discord.py has no base-URL option; these two class attributes are its endpoints. With
        pytest's ``monkeypatch`` they are restored after the test; scripts set them for good.
        """
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        for owner, name, value in (
            (Route, "BASE", self.api_base),
            (DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway)),
        ):
            if monkeypatch is not None:
                monkeypatch.setattr(owner, name, value)
            else:
                setattr(owner, name, value)

    def spec_problems(self) -> list[str]:
        spec = discord_spec()
        return [problem for exchange in self.exchanges for problem in spec.problems(exchange)]

    # --- what users do ----------------------------------------------------------------------

    def attachment(self, data: bytes, filename: str, content_type: str | None,
                   *, voice: bool = False, duration: float = 0.0) -> dict[str, Any]:  # fmt: skip
        key = f"{self.new_id()}-{filename.replace('/', '_')}"
        self.cdn[key] = data
        item: dict[str, Any] = {
            "id": str(self.new_id()),
            "filename": filename,
            "size": len(data),
            "url": f"{self.url}/cdn/{key}",
            "proxy_url": f"{self.url}/cdn/{key}",
        }
        if content_type:
            item["content_type"] = content_type
        if voice:
            item |= {"duration_secs": duration, "waveform": "AAAA"}
        return item

    def dm_channel(self, user: FakeUser) -> int:
        """``user``'s direct-message channel with the bot (type 1, no guild); Discord keeps one
        per pair, whichever side opens it."""
        if user.id not in self.dms:
            self.dms[user.id] = self.new_id()
        return self.dms[user.id]

    async def post(self, author: FakeUser, content: str = "", *, channel: int | None = None,
                   attachments: list[dict[str, Any]] | None = None, voice: bool = False,
                   reply_to: int | None = None, mention_bot: bool = False) -> int:  # fmt: skip
        """A user posts a message; returns its id."""
        channel = channel or self.general
        message = self._message(author, channel, content, attachments or [])
        if voice:
            message["flags"] = 1 << 13  # IS_VOICE_MESSAGE
        if mention_bot:
            message["mentions"] = [self.bot.json()]
            message["content"] = f"<@{self.bot.id}> {content}".strip()
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {"type": 0, "message_id": str(reply_to),
                                            "channel_id": str(channel),
                                            **self._guild_of(channel)}  # fmt: skip
            message["referenced_message"] = self.messages.get(reply_to)
        self.messages[int(message["id"])] = message
        # in a DM Discord sends no guild_id and no member: discord.py makes a DMChannel
        member = {"member": author.member(False)} if self._guild_of(channel) else {}
        await self.dispatch("MESSAGE_CREATE", message | member)
        return int(message["id"])

    async def join_voice(self, user: FakeUser, channel: int | None) -> None:
        self.voice_states[user.id] = channel
        await self.dispatch("VOICE_STATE_UPDATE", self._voice_state(user, channel))

    async def create_voice_channel(self, name: str) -> int:
        """A moderator adds a voice channel to the guild."""
        voice = next(c for c in self._channels() if c["id"] == str(self.voice))
        channel = voice | {"id": str(self.new_id()), "name": name, "position": 3}
        self.created_channels.append(channel)
        await self.dispatch("CHANNEL_CREATE", channel)
        return int(channel["id"])

    async def create_private_channel(self, name: str, *members: FakeUser) -> int:
        """A text channel only ``members`` (and the bot, an administrator) may see."""
        general = next(c for c in self._channels() if c["id"] == str(self.general))
        hidden = [{"id": str(self.guild_id), "type": 0, "allow": "0", "deny": str(1 << 10)}]
        shown = [{"id": str(m.id), "type": 1, "allow": str(1 << 10), "deny": "0"} for m in members]
        channel = general | {"id": str(self.new_id()), "name": name, "position": 4,
                             "permission_overwrites": hidden + shown}  # fmt: skip
        self.created_channels.append(channel)
        await self.dispatch("CHANNEL_CREATE", channel)
        return int(channel["id"])

    async def use_context_menu(self, user: FakeUser, name: str, target: int) -> str:
        target_message = self.messages[target]
        return await self._interact(user, int(target_message["channel_id"]), {
            "id": str(self.new_id()), "name": name, "type": 3, "target_id": str(target),
            "resolved": {"messages": {str(target): target_message}}})  # fmt: skip

    async def use_slash_command(self, user: FakeUser, name: str, *, channel: int | None = None,
                                late: bool = False, **options: int | str) -> str:  # fmt: skip
        """A user runs /name with these options (integers and strings) in ``channel``
        (#general unless given; a DM channel from dm_channel). A ``late`` one has expired by
        the time the bot answers (Discord waits 3 s for the first answer)."""
        sent = [{"name": key, "type": 4 if isinstance(value, int) else 3, "value": value}
                for key, value in options.items()]  # fmt: skip
        return await self._interact(user, channel or self.general, {
            "id": str(self.new_id()), "name": name, "type": 1, "options": sent}, late=late)  # fmt: skip

    async def type_option(self, user: FakeUser, name: str, option: str, typed: str, *,
                          channel: int | None = None) -> str:  # fmt: skip
        """A user types ``typed`` into /name's string ``option``: an autocomplete interaction,
        which takes suggestions (callback type 8) and nothing else."""
        sent = [{"name": option, "type": 3, "value": typed, "focused": True}]
        return await self._interact(user, channel or self.general, {
            "id": str(self.new_id()), "name": name, "type": 1, "options": sent}, kind=4)  # fmt: skip

    async def _interact(self, user: FakeUser, channel: int, data: dict[str, Any],
                        *, kind: int = 2, late: bool = False) -> str:  # fmt: skip
        token = f"interaction-token-{self.new_id()}"
        self.interaction_channels[token] = channel
        self.interaction_kinds[token] = kind
        if late:
            self.late_tokens.add(token)
        # Made now: discord.py reads an interaction's age from its id, and answers one older
        # than 15 minutes (as the counter's ids are) with a channel message instead.
        now = int(datetime.now(UTC).timestamp() * 1000) - DISCORD_EPOCH_MS
        if self._guild_of(channel):
            where = {"guild_id": str(self.guild_id), "guild_locale": "ru", "context": 0,
                     "channel": self._channels()[0] | {"id": str(channel)},
                     "member": user.member() | {"permissions": "2147483647"},
                     "authorizing_integration_owners": {"0": str(self.guild_id)}}  # fmt: skip
        else:  # the bot's DM: no guild, a user instead of a member, BOT_DM context
            where = {"context": 1, "user": user.json(),
                     "channel": {"id": str(channel), "type": 1, "last_message_id": None,
                                 "flags": 0, "recipients": [user.json()]},
                     "authorizing_integration_owners": {"0": "0"}}  # fmt: skip
        await self.dispatch("INTERACTION_CREATE", {
            "id": str(now << 22 | self.new_id() & 0x3FFFFF), "type": kind,
            "application_id": str(self.application_id), "token": token, "version": 1,
            "channel_id": str(channel),
            "app_permissions": "2147483647", "locale": "ru", "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024, "data": data, **where,
        })  # fmt: skip
        return token

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 60) -> dict[str, Any]:  # fmt: skip
        """The first bot message (sent or edited) that satisfies ``predicate``."""
        async with self.changed:
            found = await asyncio.wait_for(
                self.changed.wait_for(lambda: next(
                    (m for m in self.bot_messages if predicate(m)), None)), timeout)  # fmt: skip
        assert found is not None
        return found

    async def answer_to(self, token: str, timeout: float = 30) -> dict[str, Any]:
        """The bot's response (the callback's body) to the interaction ``token``."""
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: token in self.interaction_answers), timeout)  # fmt: skip
        return self.interaction_answers[token]

    async def drop_gateway(self) -> None:
        """Close every gateway socket as a network failure would (resumable)."""
        for socket in list(self.sockets):
            await socket.close(code=4000, message=b"dropped by the test")

    # --- gateway --------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        payload = {"op": 0, "t": event, "s": len(self.events) + 1, "d": data}
        self.events.append(payload)
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_str(json.dumps(payload))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}))
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            await self._gateway_op(socket, message["op"], message.get("d"))
        if socket in self.sockets:
            self.sockets.remove(socket)
        return socket

    async def _gateway_op(self, socket: web.WebSocketResponse, op: int, data: Any) -> None:
        if op == 1:
            self.heartbeats += 1
            self.heartbeat.set()
            await socket.send_str(json.dumps({"op": 11}))
        elif op == 2:
            if data["token"] not in TOKENS:
                await socket.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies += 1
            self.sockets.append(socket)
            await self.dispatch("READY", {
                "v": 10, "user": self.bot.json(), "session_id": self.session_id,
                "resume_gateway_url": self.gateway, "guilds": [{"id": str(self.guild_id),
                                                                "unavailable": True}],
                "application": {"id": str(self.application_id), "flags": 0},
                "shard": data.get("shard", [0, 1]),
            })  # fmt: skip
            await self.dispatch("GUILD_CREATE", self._guild())
        elif op == 6:
            if data["token"] not in TOKENS or data["session_id"] != self.session_id:
                await socket.send_str(json.dumps({"op": 9, "d": False}))
                return
            self.resumes += 1
            self.sockets.append(socket)
            for payload in self.events[int(data["seq"] or 0) :]:
                await socket.send_str(json.dumps(payload))
            await self.dispatch("RESUMED", {})
        elif op == 4:
            channel = int(data["channel_id"]) if data.get("channel_id") else None
            if channel in self.locked_voice:
                return  # Discord does not refuse a join it does not allow: it never answers
            entering = channel is not None and self.voice_states.get(self.bot.id) != channel
            self.bot_deafened = bool(data.get("self_deaf"))
            await self.join_voice(self.bot, channel)
            if entering and self.voice_endpoint:  # Discord names the voice server on a join
                await self.dispatch("VOICE_SERVER_UPDATE", {"token": "voice-token",
                                    "guild_id": str(self.guild_id), "endpoint": self.voice_endpoint})  # fmt: skip

    # --- REST -----------------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            response: web.StreamResponse = await handler(request)
            return response
        if request.headers.get("Authorization") not in [f"Bot {token}" for token in TOKENS]:
            if request.path.startswith("/api/v10/interactions/") or \
                    request.path.startswith("/api/v10/webhooks/"):  # fmt: skip
                pass  # interaction tokens authorise these
            else:
                return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        for index, (prefix, retry_after) in enumerate(self.rate_limits):
            if request.path.startswith("/api/v10" + prefix):
                del self.rate_limits[index]
                self.rate_limited += 1
                headers = {"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Limit": "5",
                           "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(retry_after),
                           "X-RateLimit-Bucket": "test-bucket", "X-RateLimit-Scope": "user"}  # fmt: skip
                body = {"message": "You are being rate limited.", "retry_after": retry_after,
                        "global": False}  # fmt: skip
                return _json(body, status=429, headers=headers)
        return await handler(request)

    def _record(self, request: web.Request, body: Any, status: int, payload: Any,
                files: set[str] | None = None) -> web.Response:  # fmt: skip
        self.exchanges.append(Exchange(request.method, request.path,
                                       request.content_type if request.body_exists else "",
                                       body if isinstance(body, dict | list) else {}, status,
                                       payload,
                                       files or set(), dict(request.query)))  # fmt: skip
        if status == 204:
            return web.Response(status=204)
        return _json(payload, status=status)

    async def _me(self, request: web.Request) -> web.Response:
        me = self.bot.json() | {"mfa_enabled": False, "locale": "ru", "verified": True,
                                "email": None, "premium_type": 0}  # fmt: skip
        return self._record(request, {}, 200, me)

    async def _application(self, request: web.Request) -> web.Response:
        app = {"id": str(self.application_id), "name": "Voxdesk", "icon": None,
               "description": "", "bot_public": False, "bot_require_code_grant": False,
               "verify_key": "0" * 64, "flags": 0, "owner": self.moderator.json(),
               "team": None, "summary": "", "type": None, "redirect_uris": [],
               "interactions_endpoint_url": None, "bot": self.bot.json(), "flags_new": "0",
               "role_connections_verification_url": None, "approximate_guild_count": 1,
               "approximate_user_install_count": 0, "approximate_user_authorization_count": 0,
               "explicit_content_filter": 0, "eligible_oauth2_scopes": ["bot"]}  # fmt: skip
        return self._record(request, {}, 200, app)

    async def _gateway_url(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = {"url": self.gateway}
        if request.path.endswith("/bot"):
            payload |= {"shards": 1, "session_start_limit": {"total": 1000, "remaining": 999,
                        "reset_after": 0, "max_concurrency": 1}}  # fmt: skip
        return self._record(request, {}, 200, payload)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = int(request.match_info["channel"])
        body, files = await _read_body(request)
        if len(body.get("content") or "") > MESSAGE_LIMIT:
            return self._record(request, body, 400, _TOO_LONG)
        if channel in self.forbidden_channels:
            missing = {"message": "Missing Permissions", "code": 50013}
            return self._record(request, body, 403, missing)
        attachments = [self.attachment(data, name, None) for name, data in files.values()]
        reference = body.get("message_reference")
        if reference and not self._replied(channel, reference):
            if reference.get("fail_if_not_exists") is not False:
                return self._record(request, body, 400, _UNKNOWN_REFERENCE)
            reference = None  # Discord sends it as a message of its own
        message = self._message(self.bot, channel, body.get("content") or "", attachments)
        if reference:
            message["type"] = 19
            message["message_reference"] = {"type": 0, **reference,
                                            "message_id": str(reference["message_id"]),
                                            "channel_id": str(channel),
                                            **self._guild_of(channel)}  # fmt: skip
            message["referenced_message"] = self.messages.get(int(reference["message_id"]))
        self.messages[int(message["id"])] = message
        await self._bot_said(dict(message))  # a copy: later edits must not rewrite history
        await self.dispatch("MESSAGE_CREATE", message)
        return self._record(request, body, 200, message, set(files))

    def _replied(self, channel: int, reference: dict[str, Any]) -> bool:
        """The message a reply refers to is in its channel, as Discord requires."""
        replied = self.messages.get(int(reference["message_id"]))
        return replied is not None and int(replied["channel_id"]) == channel

    async def _get_message(self, request: web.Request) -> web.Response:
        found = self.messages.get(int(request.match_info["message"]))
        if found is None:
            return self._record(request, {}, 404, {"message": "Unknown Message", "code": 10008})
        return self._record(request, {}, 200, found)

    async def _edit_message(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        if len(body.get("content") or "") > MESSAGE_LIMIT:
            return self._record(request, body, 400, _TOO_LONG)
        message = self.messages[int(request.match_info["message"])]
        message["content"] = body.get("content", message["content"])
        message["edited_timestamp"] = _stamp()
        await self._bot_said(dict(message))
        return self._record(request, body, 200, message)

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.users.get(int(body.get("recipient_id") or 0))
        if user is None:
            problem = {"message": "Invalid Recipient(s)", "code": 50033}
            return self._record(request, body, 400, problem)
        channel = {"id": str(self.dm_channel(user)), "type": 1, "last_message_id": None,
                   "flags": 0, "recipients": [user.json()]}  # fmt: skip
        return self._record(request, body, 200, channel)

    async def _no_content(self, request: web.Request) -> web.Response:
        return self._record(request, {}, 204, None)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        token = request.match_info["token"]
        if token in self.late_tokens:
            gone = {"message": "Unknown interaction", "code": 10062}
            return self._record(request, body, 404, gone)
        if len(body.get("data", {}).get("content") or "") > MESSAGE_LIMIT:
            return self._record(request, body, 400, _TOO_LONG)
        if token in self.interaction_answers:  # one callback per interaction; then followups
            again = {"message": "Interaction has already been acknowledged.", "code": 40060}
            return self._record(request, body, 400, again)
        self.interaction_responses.append(body)
        async with self.changed:
            self.interaction_answers[token] = body
            self.changed.notify_all()
        deferred = body.get("type") == 5
        flags = int(body.get("data", {}).get("flags") or 0)
        if deferred:
            self.deferrals[token] = flags
        message = None
        if body.get("type") == 4:  # an answer at once is a message, as a followup is
            message = self._message(self.bot, self.interaction_channels.get(token, self.general),
                                    body["data"].get("content") or "", [])  # fmt: skip
            message |= {"flags": flags, "webhook_id": str(self.application_id)}
            self.original_responses[token] = message
            await self._bot_said(message | {"interaction_response": True})
        if request.query.get("with_response") not in ("true", "1"):
            return self._record(request, body, 204, None)
        interaction = {"id": request.match_info["id"], "type": self.interaction_kinds.get(token, 2),
                       "response_message_loading": deferred,
                       "response_message_ephemeral": bool(flags & EPHEMERAL)}  # fmt: skip
        answer: dict[str, Any] = {"interaction": interaction}
        if message is not None:  # the message it made, so the client need not fetch @original
            interaction["response_message_id"] = message["id"]
            answer["resource"] = {"type": 4, "message": message}
        return self._record(request, body, 200, answer)

    async def _original_response(self, request: web.Request) -> web.Response:
        found = self.original_responses.get(request.match_info["token"])
        if found is None:
            return self._record(request, {}, 404, {"message": "Unknown Message", "code": 10008})
        return self._record(request, {}, 200, found)

    async def _followup(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        if len(body.get("content") or "") > MESSAGE_LIMIT:
            return self._record(request, body, 400, _TOO_LONG)
        token = request.match_info["token"]
        channel = self.interaction_channels.get(token, self.general)
        message = self._message(self.bot, channel, body.get("content") or "", [])
        flags = int(body.get("flags") or 0)
        if token in self.deferrals:  # the first follow-up is the deferred answer: as Discord
            # does, it is as private or as public as the deferral said, whatever its own flags
            flags = (flags & ~EPHEMERAL) | (self.deferrals.pop(token) & EPHEMERAL)
            self.original_responses[token] = message
        message |= {"flags": flags, "webhook_id": str(self.application_id)}
        await self._bot_said(message | {"followup": True})
        return self._record(request, body, 200, message)

    async def _sync_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: the sent commands replace the registered ones, and Discord answers
        with each as it stored it (a command keeps its id, by type and name)."""
        body = await request.json()
        ids = {(c["type"], c["name"]): c["id"] for c in self.commands}
        self.commands = [self._registered(sent, ids) for sent in body or []]
        return self._record(request, body, 200, self.commands)

    def _registered(self, sent: dict[str, Any], ids: dict[tuple[int, str], str]) -> dict[str, Any]:
        kind = sent.get("type") or 1  # CHAT_INPUT unless said
        permissions = sent.get("default_member_permissions")
        command = _without_nulls(sent) | {
            "id": ids.get((kind, sent["name"])) or str(self.new_id()),
            "application_id": str(self.application_id), "version": str(self.new_id()),
            "type": kind, "description": sent.get("description") or "",  # menus have none
            "default_member_permissions": None if permissions is None else str(permissions),
            "dm_permission": sent.get("dm_permission") is not False,
            "contexts": sent.get("contexts"), "nsfw": bool(sent.get("nsfw")),
            "integration_types": sent.get("integration_types") or [0],  # guild installs
        }  # fmt: skip
        if not command.get("options"):
            command.pop("options", None)  # Discord leaves out an empty list
        return command

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.cdn.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _bot_said(self, message: dict[str, Any]) -> None:
        async with self.changed:
            self.bot_messages.append(message)
            self.changed.notify_all()

    # --- payloads ---------------------------------------------------------------------------------

    def _message(self, author: FakeUser, channel: int, content: str,
                 attachments: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
        return self._guild_of(channel) | {
            "id": str(self.new_id()), "channel_id": str(channel), "author": author.json(),
            "content": content, "timestamp": _stamp(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": attachments, "embeds": [], "pinned": False,
            "type": 0, "flags": 0, "components": [],
        }  # fmt: skip

    def _guild_of(self, channel: int) -> dict[str, str]:
        """The ``guild_id`` field for a message in ``channel``: none in a direct message."""
        return {} if channel in self.dms.values() else {"guild_id": str(self.guild_id)}

    def _channels(self) -> list[dict[str, Any]]:
        base = {"guild_id": str(self.guild_id), "permission_overwrites": [], "nsfw": False,
                "parent_id": None, "rate_limit_per_user": 0, "flags": 0}  # fmt: skip
        return [
            base | {"id": str(self.general), "type": 0, "name": "general", "position": 0,
                    "topic": None, "last_message_id": None},
            base | {"id": str(self.chat), "type": 0, "name": "bot-chat", "position": 1,
                    "topic": None, "last_message_id": None},
            base | {"id": str(self.voice), "type": 2, "name": "Voice", "position": 2,
                    "bitrate": 64000, "user_limit": 0, "rtc_region": None},
            *self.created_channels,
        ]  # fmt: skip

    def _voice_state(self, user: FakeUser, channel: int | None) -> dict[str, Any]:
        return {"guild_id": str(self.guild_id), "channel_id": str(channel) if channel else None,
                "user_id": str(user.id), "member": user.member(), "session_id": "voice-session",
                "deaf": False, "mute": False, "self_deaf": user.bot and self.bot_deafened, "self_mute": False,
                "self_video": False, "suppress": False, "request_to_speak_timestamp": None}  # fmt: skip

    def _guild(self) -> dict[str, Any]:
        roles = [r | {"color": 0, "hoist": False, "icon": None, "unicode_emoji": None,
                      "position": i, "managed": False, "mentionable": False, "flags": 0}
                 for i, r in enumerate(self.roles)]  # fmt: skip
        return {
            "id": str(self.guild_id), "name": "Voxdesk Test Guild", "icon": None,
            "owner_id": str(self.moderator.id), "roles": roles, "emojis": [], "stickers": [],
            "features": [], "member_count": len(self.users),
            "members": [u.member() for u in self.users.values()], "channels": self._channels(),
            "threads": [], "presences": [], "large": False, "unavailable": False,
            "voice_states": [self._voice_state(self.users[u], c) for u, c in self.voice_states.items() if c],
            "joined_at": "2025-01-01T00:00:00+00:00", "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0,
            "premium_subscription_count": 0, "preferred_locale": "ru",
            "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "application_id": None,
            "max_members": 500_000, "stage_instances": [], "guild_scheduled_events": [],
        }  # fmt: skip


def _without_nulls(value: Any) -> Any:
    """``value`` without the null fields Discord leaves out of what it stores."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


async def _read_body(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """The JSON body (from payload_json in a multipart request) and files by part name."""
    if not request.body_exists:
        return {}, {}
    if request.content_type == "application/json":
        return await request.json(), {}
    body: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader)
        data = bytes(await part.read())
        if part.name == "payload_json":
            body = json.loads(data)
        elif part.filename:
            files[part.name or ""] = (part.filename, data)
    return body, files
