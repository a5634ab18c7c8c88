"""Downloaded models and voices: fetch from the hub, verify, install, list, remove.

A download goes into a staging folder (``.partial/``) through ``huggingface_hub``, which resumes
a file cut off earlier with a Range request. Each file is then checked against the hash the
hub lists for it (sha256 for LFS files, the git blob hash for others): ``huggingface_hub`` only
checks sizes. Only a complete, verified folder is renamed into place, with a manifest, so
nothing half-downloaded is ever found as installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.models.catalogue import CatalogueEntry, Kind, catalogue

log = logging.getLogger(__name__)

MANIFEST = "voxdesk-model.json"
_KIND_FOLDERS = {"whisper": "whisper", "voice": "voices"}
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's reading of HF_HUB_OFFLINE


class ModelError(VoxdeskError):
    """A model cannot be found, downloaded or removed."""


class ModelNotInstalled(ModelError):
    """A catalogue model that has not been downloaded."""


class DownloadCancelled(ModelError):
    """The user stopped a download; what arrived is kept for the next attempt."""


@dataclass(frozen=True)
class DownloadProgress:
    name: str
    done: int  # bytes, counting what an earlier attempt left
    total: int
    file: str  # the file arriving now


@dataclass(frozen=True)
class RemoteFile:
    path: str  # in the repository
    size: int
    sha256: str | None  # LFS files
    blob_id: str  # git's hash of the content (for LFS files, of the pointer)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DownloadPlan:
    """What a download would fetch: shown before it starts (its size needs a confirmation)."""

    entry: CatalogueEntry
    commit: str
    files: tuple[RemoteFile, ...]

    @property
    def total(self) -> int:
        return sum(item.size for item in self.files)


ProgressCallback = Callable[[DownloadProgress], None]


def default_root() -> Path:
    return platformdirs.user_cache_path("voxdesk") / "models" / "downloaded"


def hub_endpoint() -> str:
    """The hub or mirror to use, read when needed (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


class ModelStore:
    """The downloaded models and voices under ``root`` (the user cache by default)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    def entry(self, name: str) -> CatalogueEntry:
        entry = catalogue().get(name)
        if entry is None:
            raise ModelError(
                f"'{name}' is not in the catalogue of models and voices.",
                hint="`voxdesk models list` shows the names.",
            )
        return entry

    def folder(self, entry: CatalogueEntry) -> Path:
        return self.root / _KIND_FOLDERS[entry.kind] / entry.name

    def installed_path(self, name: str) -> Path | None:
        """The folder of a complete download of ``name``, or None."""
        entry = catalogue().get(name)
        if entry is None:
            return None
        folder = self.folder(entry)
        return folder if (folder / MANIFEST).is_file() else None

    def path(self, name: str) -> Path:
        """The folder of a downloaded entry; a clear error when it is not downloaded."""
        entry = self.entry(name)
        folder = self.installed_path(name)
        if folder is None:
            raise ModelNotInstalled(
                f"The {_label(entry)} '{name}' (about {entry.size_mb:g} MB) is not downloaded.",
                hint=f"Download it: voxdesk models download {name}",
            )
        return folder

    def installed(self) -> list[CatalogueEntry]:
        return [entry for entry in catalogue().values() if self.installed_path(entry.name)]

    def remove(self, name: str) -> Path:
        """Delete a downloaded entry and whatever a stopped download of it left."""
        entry = self.entry(name)
        if name in self._bundled():
            raise ModelError(
                f"'{name}' is bundled with Voxdesk (it comes with its Python packages), so it "
                "cannot be removed."
            )
        folder, partial = self.folder(entry), self._partial(entry)
        if not folder.exists() and not partial.exists():
            raise ModelError(f"'{name}' is not downloaded, so there is nothing to remove.")
        # Renamed away first: a half-deleted folder must never look installed.
        for target in (folder, partial):
            if target.exists():
                doomed = target.with_name(f".removing-{target.name}")
                target.replace(doomed)
                shutil.rmtree(doomed)
        return folder

    async def plan(self, name: str) -> DownloadPlan:
        """Ask the hub what downloading ``name`` means: its exact files, sizes and hashes."""
        entry = self.entry(name)
        return await asyncio.to_thread(_hub_errors, entry, self._names(entry.kind), _plan, entry)

    async def download(
        self, name: str, progress: ProgressCallback | None = None, plan: DownloadPlan | None = None
    ) -> Path:
        """Download, verify and install ``name``; cancelling the task stops the download.

        ``progress`` is called on this event loop. What arrived before an interruption or a
        cancel is kept and resumed by the next call.
        """
        entry = self.entry(name)
        if (installed := self.installed_path(name)) is not None:
            return installed
        loop = asyncio.get_running_loop()
        cancel = threading.Event()

        def report(update: DownloadProgress) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, update)

        have = self._names(entry.kind)
        worker = asyncio.ensure_future(
            asyncio.to_thread(_hub_errors, entry, have, self._fetch, entry, plan, report, cancel)
        )
        try:
            return await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancel.set()  # the worker stops at its next chunk; wait, so no write outlives us
            with contextlib.suppress(Exception):
                await worker
            raise

    def _fetch(
        self,
        entry: CatalogueEntry,
        plan: DownloadPlan | None,
        report: ProgressCallback,
        cancel: threading.Event,
    ) -> Path:
        from filelock import FileLock, Timeout

        staging = self._partial(entry)
        staging.mkdir(parents=True, exist_ok=True)
        try:
            lock = FileLock(str(staging.parent / f"{entry.name}.lock"), timeout=0)
            lock.acquire()
        except Timeout:
            raise ModelError(f"'{entry.name}' is being downloaded already.") from None
        try:
            plan = plan or _plan(entry)
            _check_room(plan, staging)
            _download_files(plan, staging, report, cancel)
            return self._install(plan, staging)
        finally:
            lock.release()

    def _install(self, plan: DownloadPlan, staging: Path) -> Path:
        folder = self.folder(plan.entry)
        for item in plan.files:  # a voice's files sit in folders of the repository
            if item.path != item.name:
                (staging / item.path).replace(staging / item.name)
        for child in staging.iterdir():  # those folders, and huggingface_hub's resume notes
            if child.is_dir():
                shutil.rmtree(child)
        manifest = {
            "name": plan.entry.name,
            "repo": plan.entry.repo,
            "commit": plan.commit,
            "files": {item.name: item.sha256 or item.blob_id for item in plan.files},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), "utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(folder)
        log.info("Installed %s in %s", plan.entry.name, folder)
        return folder

    def _partial(self, entry: CatalogueEntry) -> Path:
        return self.root / ".partial" / _KIND_FOLDERS[entry.kind] / entry.name

    def _names(self, kind: Kind) -> str:
        """The models (or voices) of ``kind`` here, for a download that cannot be made."""
        from voxdesk.core.models.overview import overview  # it knows the bundled models too

        rows = [row for row in overview(self) if row.status != "downloadable" and row.kind == kind]
        return ", ".join(f"{row.name} ({row.status})" for row in rows) or "none"

    def _bundled(self) -> set[str]:
        from voxdesk.core.models.overview import overview

        return {row.name for row in overview(self) if row.status == "bundled"}


def _label(entry: CatalogueEntry) -> str:
    return "Whisper model" if entry.kind == "whisper" else "voice"


def _plan(entry: CatalogueEntry) -> DownloadPlan:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=hub_endpoint(), token=False)
    # Pinned to one commit, so every file comes from the same version of the repository.
    commit = api.model_info(entry.repo, revision="main", expand=["sha"]).sha
    if not commit:
        raise ValueError("the hub's answer names no commit")
    tree = api.list_repo_tree(entry.repo, path_in_repo=entry.folder or None, revision=commit)
    files = tuple(
        RemoteFile(item.path, item.size, item.lfs.sha256 if item.lfs else None, item.blob_id)
        for item in tree
        if isinstance(item, RepoFile)
        and any(fnmatch.fnmatch(item.path.rsplit("/", 1)[-1], p) for p in entry.patterns)
    )
    model = "model.bin" if entry.kind == "whisper" else f"{entry.name}.onnx"
    if model not in {item.name for item in files}:
        raise ModelError(
            f"{entry.repo} on {hub_endpoint()} has no {model} in '{entry.folder or '/'}'.",
            hint="The mirror (HF_ENDPOINT) may be incomplete; try the main hub.",
        )
    return DownloadPlan(entry, commit, files)


def _check_room(plan: DownloadPlan, staging: Path) -> None:
    arrived = sum(path.stat().st_size for path in staging.rglob("*") if path.is_file())
    needed, free = plan.total - arrived, shutil.disk_usage(staging).free
    if needed > free:
        raise ModelError(
            f"Not enough disk space for '{plan.entry.name}': it needs {needed / 1e6:.0f} MB "
            f"more, {free / 1e6:.0f} MB are free in {staging.parent}.",
            hint="Free some space, then download again.",
        )


def _download_files(
    plan: DownloadPlan, staging: Path, report: ProgressCallback, cancel: threading.Event
) -> None:
    from huggingface_hub import hf_hub_download

    done = 0
    for item in plan.files:
        before = done

        def arrived(count: int, *, item: RemoteFile = item, start: int = before) -> None:
            nonlocal done
            if cancel.is_set():
                raise DownloadCancelled(
                    f"The download of '{plan.entry.name}' was stopped.",
                    hint="What arrived is kept: download it again to resume.",
                )
            done = start + count
            report(DownloadProgress(plan.entry.name, done, plan.total, item.name))

        arrived(0)
        path = hf_hub_download(
            plan.entry.repo,
            item.path,
            revision=plan.commit,
            local_dir=staging,
            endpoint=hub_endpoint(),
            token=False,
            tqdm_class=_progress_class(arrived),
        )
        _verify(Path(path), item, plan.entry.name)
        arrived(item.size)


def _progress_class(arrived: Callable[[int], None]) -> type:
    """A stand-in for tqdm that huggingface_hub updates chunk by chunk, to report and to stop."""

    class Progress:
        def __init__(self, *args: Any, initial: int = 0, **kwargs: Any) -> None:
            self.count = initial  # what an earlier attempt left, resumed
            arrived(self.count)

        def __enter__(self) -> Progress:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: float | None = 1) -> None:
            self.count += int(n or 0)
            arrived(self.count)

    return Progress


def _verify(path: Path, item: RemoteFile, name: str) -> None:
    from huggingface_hub.utils.sha import git_hash, sha_fileobj

    with path.open("rb") as stream:
        if item.sha256:
            actual, expected = sha_fileobj(stream).hex(), item.sha256
        else:
            actual, expected = git_hash(stream.read()), item.blob_id
    if actual != expected:
        path.unlink()
        raise ModelError(
            f"{item.name} of '{name}' does not match the hub's hash (corrupted on the way); "
            "it was deleted.",
            hint=f"Download it again: voxdesk models download {name}",
        )


def _hub_errors(entry: CatalogueEntry, installed: str, work: Callable[..., Any], *args: Any) -> Any:
    """Run ``work``, turning what the hub or the network did into one line a user can act on."""
    import httpx
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = hub_endpoint()
    unreachable = f"Installed now: {installed}."
    if hub_offline():
        raise ModelError(
            f"Cannot download '{entry.name}': HF_HUB_OFFLINE is set. {unreachable}",
            hint="Unset HF_HUB_OFFLINE to download.",
        )
    try:
        return work(*args)
    except (httpx.ConnectError, httpx.TimeoutException, OfflineModeIsEnabled,
            LocalEntryNotFoundError) as error:  # fmt: skip
        raise ModelError(
            f"Cannot reach the model hub ({where}): {type(error).__name__}. {unreachable}",
            hint="Check the connection, or set HF_ENDPOINT to a mirror.",
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as error:
        raise ModelError(
            f"{where} has no {entry.repo}{'/' + entry.folder if entry.folder else ''} "
            f"({type(error).__name__}).",
            hint="The mirror (HF_ENDPOINT) may lack it; try the main hub.",
        ) from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise ModelError(
            f"The model hub ({where}) answered HTTP {status} for '{entry.name}'.",
            hint="Try again later; what arrived is kept and resumed.",
        ) from None
    except (httpx.TransportError, httpx.DecodingError) as error:
        raise ModelError(
            f"The download of '{entry.name}' from {where} was cut off ({type(error).__name__}).",
            hint=f"Run `voxdesk models download {entry.name}` again: it resumes where it stopped.",
        ) from None
    except (ValueError, KeyError, TypeError) as error:  # JSON that is not the hub's
        raise ModelError(
            f"The model hub ({where}) sent an answer that is not the hub's ({error}).",
            hint="Check HF_ENDPOINT: it should point at the hub or a mirror of it.",
        ) from None
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise ModelError(
                f"The disk is full: '{entry.name}' needs about {entry.size_mb:g} MB.",
                hint="Free some space, then download again: it resumes.",
            ) from None
        if "Consistency check failed" in str(error):
            raise ModelError(
                f"A file of '{entry.name}' arrived with the wrong size.",
                hint=f"Run `voxdesk models download {entry.name}` again.",
            ) from None
        raise
