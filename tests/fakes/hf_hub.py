"""A loopback Hugging Face hub: the few endpoints ``huggingface_hub`` uses to download files.

- ``GET /api/models/{repo}/revision/{rev}``: the repository's commit (``model_info``);
- ``GET /api/models/{repo}/tree/{rev}/{folder}``: files with sizes, git blob ids and, for LFS
  files, their sha256 (``list_repo_tree``);
- ``HEAD|GET /{repo}/resolve/{rev}/{path}``: a small file itself with its ETag (the git blob id);
  an LFS file redirects to ``/cdn/{sha256}`` with X-Linked-Etag and X-Linked-Size, as the hub
  does; every answer carries X-Repo-Commit;
- ``GET /cdn/{sha256}``: the LFS content, with Range requests (206 and Content-Range).

Tests make it misbehave: cut a download off after some bytes, hold it mid-file until released,
serve a file with its bytes changed (same size, wrong hash), answer an error status or garbage.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

LFS_THRESHOLD = 1 << 20  # the hub keeps large files in LFS; these tests put above 1 MB there
_STATUS: dict[int, type[web.HTTPException]] = {
    404: web.HTTPNotFound, 500: web.HTTPInternalServerError, 503: web.HTTPServiceUnavailable,
}  # fmt: skip


@dataclass(frozen=True)
class HubFile:
    path: str
    data: bytes = field(repr=False)  # a repr of tens of megabytes takes seconds
    sha256: str = field(init=False)

    def __post_init__(self) -> None:  # hashed once: tests serve tens of megabytes
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def lfs(self) -> bool:
        return len(self.data) > LFS_THRESHOLD

    @property
    def blob_id(self) -> str:
        """git's object id: of the content, or for an LFS file of its pointer."""
        content = self.pointer if self.lfs else self.data
        return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()

    @property
    def pointer(self) -> bytes:
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.data)}\n").encode()  # fmt: skip

    def tree_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "type": "file", "oid": self.blob_id, "size": len(self.data), "path": self.path,
        }  # fmt: skip
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data),
                            "pointerSize": len(self.pointer)}  # fmt: skip
        return entry


@dataclass
class Repository:
    repo_id: str
    files: dict[str, HubFile] = field(repr=False)
    commit: str = field(default_factory=lambda: hashlib.sha1(b"voxdesk").hexdigest())

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path, prefix: str = "") -> Repository:
        files = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("__"):
                name = f"{prefix}/{path.name}" if prefix else path.name
                files[name] = HubFile(name, path.read_bytes())
        return cls(repo_id, files)


@dataclass
class FakeHub:
    repositories: dict[str, Repository] = field(default_factory=dict)
    status: int | None = None  # every API answer has this status
    garbage: bool = False  # the API answers 200 with a web page instead of JSON
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, then cut (once)
    corrupt: set[str] = field(default_factory=set)  # paths served with one byte changed
    hold_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, then wait
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Range
    endpoint: str = ""
    _runner: web.AppRunner | None = None

    def add(self, repository: Repository) -> None:
        self.repositories[repository.repo_id] = repository

    async def start(self) -> FakeHub:
        app = web.Application()
        app.router.add_get("/api/models/{owner}/{name}/revision/{revision}", self._info)
        app.router.add_get("/api/models/{owner}/{name}/tree/{revision}", self._tree)
        app.router.add_get("/api/models/{owner}/{name}/tree/{revision}/{folder:.+}", self._tree)
        app.router.add_get("/{owner}/{name}/resolve/{revision}/{path:.+}", self._resolve)  # +HEAD
        app.router.add_get("/cdn/{sha256}", self._cdn)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.endpoint = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner:
            await self._runner.cleanup()

    def ranges(self, path_end: str) -> list[str]:
        return [
            r for method, path, r in self.requests if method == "GET" and path.endswith(path_end)
        ]

    def _repository(self, request: web.Request) -> Repository:
        self.requests.append((request.method, request.path, request.headers.get("Range", "")))
        if self.status:
            raise _STATUS[self.status](text=f"status {self.status}")
        repo_id = f"{request.match_info['owner']}/{request.match_info['name']}"
        repository = self.repositories.get(repo_id)
        if repository is None:
            raise web.HTTPNotFound(
                headers={"X-Error-Code": "RepoNotFound"}, text="Repository not found"
            )
        return repository

    async def _info(self, request: web.Request) -> web.Response:
        repository = self._repository(request)
        if self.garbage:
            return web.Response(text="<html>Welcome to our portal</html>", content_type="text/html")
        siblings = [{"rfilename": path} for path in repository.files]
        return web.json_response(
            {"id": repository.repo_id, "sha": repository.commit, "siblings": siblings}
        )

    async def _tree(self, request: web.Request) -> web.Response:
        repository = self._repository(request)
        folder = request.match_info.get("folder", "")
        prefix = f"{folder}/" if folder else ""
        entries = [item.tree_entry() for path, item in repository.files.items()
                   if path.startswith(prefix) and "/" not in path[len(prefix):]]  # fmt: skip
        return web.json_response(entries)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        repository = self._repository(request)
        item = repository.files.get(request.match_info["path"])
        headers = {"X-Repo-Commit": repository.commit}
        if item is None:
            raise web.HTTPNotFound(headers={**headers, "X-Error-Code": "EntryNotFound"})
        if item.lfs:
            location = f"{self.endpoint}/cdn/{item.sha256}"
            headers |= {"X-Linked-Etag": f'"{item.sha256}"', "X-Linked-Size": str(len(item.data)),
                        "ETag": f'"{item.blob_id}"', "Location": location}  # fmt: skip
            return web.Response(status=302, headers=headers)
        headers["ETag"] = f'"{item.blob_id}"'
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(item.data))
            return web.Response(headers=headers)
        return await self._send(request, item, headers)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.headers.get("Range", "")))
        for repository in self.repositories.values():
            for item in repository.files.values():
                if item.sha256 == request.match_info["sha256"]:
                    return await self._send(request, item, {})
        raise web.HTTPNotFound()

    async def _send(
        self, request: web.Request, item: HubFile, headers: dict[str, str]
    ) -> web.StreamResponse:
        data = item.data
        if item.path in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = _range_start(request.headers.get("Range", ""))
        response = web.StreamResponse(status=206 if start else 200, headers=headers)
        response.content_length = len(data) - start
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await response.prepare(request)
        cut = self.cut_after.pop(item.path, None)
        hold = self.hold_after.pop(item.path, None)
        stop = cut if cut is not None else hold
        if stop is not None:
            await response.write(data[start : start + stop])
            if cut is not None:  # the connection drops mid-file
                assert request.transport is not None
                request.transport.abort()
                return response
            self.held.set()
            await self.release.wait()
            start += stop
        await response.write(data[start:])
        await response.write_eof()
        return response


def _range_start(header: str) -> int:
    """'bytes=123-' -> 123 (huggingface_hub asks for the rest of a file from an offset)."""
    if not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)
