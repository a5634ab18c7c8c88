"""A loopback stand-in for Google's speech endpoint that SpeechRecognition posts FLAC to.

It decodes what it receives (so the request must carry real audio) and answers in Google's
line-delimited JSON, saying how many seconds it heard in which language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

from voxdesk.core.audio import DecodeLimits, decode_to_pcm


@dataclass
class HeardRequest:
    language: str
    content_type: str
    seconds: float


@dataclass
class FakeGoogleSpeech:
    fail_with: int | None = None
    heard: list[HeardRequest] = field(default_factory=list)
    endpoint: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeGoogleSpeech:
        app = web.Application()
        app.router.add_post("/speech-api/v2/recognize", self._recognize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.endpoint = f"http://127.0.0.1:{port}/speech-api/v2/recognize"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _recognize(self, request: web.Request) -> web.Response:
        if self.fail_with:
            return web.Response(status=self.fail_with, text="server trouble")
        language = request.query["lang"]
        audio = await decode_to_pcm(await request.read(), DecodeLimits(1 << 26, 120, 30))
        self.heard.append(
            HeardRequest(language, request.headers["Content-Type"], round(audio.duration, 1))
        )
        if audio.samples().std() < 1:  # silence: Google answers with an empty result
            return web.Response(text='{"result":[]}\n')
        alternative = {"transcript": f"heard {audio.duration:.0f} seconds", "confidence": 0.9}
        result = {"result": [{"alternative": [alternative], "final": True}], "result_index": 0}
        return web.Response(text='{"result":[]}\n' + json.dumps(result) + "\n")
