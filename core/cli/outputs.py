"""Where a command's ``-o`` writes, checked before any work: a missing folder or a file in the
way is one line saying what is wrong and what to do, not an OS error number after the work."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NoReturn

from voxdesk.core.errors import VoxdeskError


def names_folder(output: str) -> bool:
    """``-o out/`` (the trailing slash, as a shell completes a folder) or an existing folder."""
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def check_folder(folder: Path) -> None:
    """``folder`` exists, made if need be, and takes new files."""
    blocker = _existing(folder)
    if not blocker.is_dir():
        _refuse(folder, f"{blocker} is a file, not a folder", "Choose another -o folder.")
    _check_writable(folder, folder)


def check_file(path: Path) -> None:
    """``path`` can be written: it is no folder, and its folder exists and takes new files. The
    folder is not made: a mistyped folder name would hide the file where nobody looks."""
    if path.is_dir():
        _refuse(path, "it is a folder", f"Name a file in it, e.g. -o {path / path.name}.")
    folder = path.parent
    found = _existing(folder)
    if not found.is_dir():
        _refuse(path, f"{found} is a file, not a folder", "Choose an -o path in a folder.")
    if found != folder:
        _refuse(
            path,
            f"the folder {folder} does not exist",
            f"Create it first (mkdir -p {folder}) or choose an -o path in an existing folder.",
        )
    _check_writable(folder, path)


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    try:
        return next((p for p in (path, *path.parents) if p.exists()), Path.cwd())
    except OSError as error:  # a folder on the way that cannot be looked into
        _refuse(path, error.strerror or str(error), "Choose an -o path you can write to.")


def _check_writable(folder: Path, output: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        _refuse(output, error.strerror or str(error), "Choose an -o path you can write to.")


def _refuse(output: Path, problem: str, hint: str) -> NoReturn:
    raise VoxdeskError(f"Cannot write to {output}: {problem}.", hint=hint)
