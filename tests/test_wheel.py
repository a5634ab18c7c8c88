"""The built wheel, installed (not editable) into a fresh virtualenv, works from anywhere.

A file the code reads at run time but the wheel does not carry (a prompt, the price table, an
icon) passes every test run from the source tree; this one runs the installed copy instead.
The new virtualenv borrows the project's dependencies through a .pth line that comes after its
own site-packages, so voxdesk itself is the wheel's while nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bench.scoring import normalize
from tests.conftest import clip

ROOT = Path(__file__).parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "core", "bridge", "desktop", "resources")
EXAMPLE = {
    "messages": [
        {"role": "system", "content": "You are Voxdesk's test bot."},
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "Four."},
    ]
}

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a virtualenv with the wheel built from this tree installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build leaves nothing in the repository
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "--no-deps", "--no-index", "--no-build-isolation", "-w", "dist", source,
        cwd=work)  # fmt: skip
    (wheel,) = (work / "dist").glob("voxdesk-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=work)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work)
    # The shared folder's own .pth files are not read, so the editable install stays out.
    (Path(site.strip()) / "zz_shared_dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    return python.parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    environment["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    environment["QT_QPA_PLATFORM"] = "offscreen"
    return environment


def test_voxdesk_is_the_wheels_copy(installed: Path, tmp_path: Path, env: dict[str, str]) -> None:
    code = "import voxdesk.core, voxdesk.resources; print(voxdesk.core.__file__)"
    where = Path(run(installed / "python", "-c", code, cwd=tmp_path, env=env).strip())
    assert where.is_relative_to(installed.parent)


def test_help_lists_the_commands(installed: Path, tmp_path: Path, env: dict[str, str]) -> None:
    out = run(installed / "voxdesk", "--help", cwd=tmp_path, env=env)
    assert all(command in out for command in ("transcribe", "dataset", "bridge"))


def test_transcribe_a_corpus_clip(installed: Path, tmp_path: Path, env: dict[str, str]) -> None:
    english = clip("deepspeech_new_home_in_the_stars.wav")
    out = run(installed / "voxdesk", "transcribe", english.path, cwd=tmp_path, env=env)
    assert normalize(out) == english.reference


def test_validate_a_dataset(installed: Path, tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join(json.dumps(EXAMPLE) for _ in range(12)) + "\n", encoding="utf-8")
    out = run(installed / "voxdesk", "dataset", "validate", data, "--json", cwd=tmp_path, env=env)
    report = json.loads(out)
    assert report["examples"] == 12, report


def test_every_resource_file_ships(installed: Path, tmp_path: Path, env: dict[str, str]) -> None:
    code = "import voxdesk.resources as r, pathlib; print(pathlib.Path(r.__file__).parent)"
    shipped = Path(run(installed / "python", "-c", code, cwd=tmp_path, env=env).strip())
    resources = ROOT / "resources"
    missing = [
        str(path.relative_to(resources))
        for path in resources.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
        if not (shipped / path.relative_to(resources)).is_file()
    ]
    assert not missing
