"""The four top-level folders install as one package, voxdesk, and nothing else."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
FOLDERS = ("core", "bridge", "desktop", "resources")


def test_every_sub_package_is_listed_for_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    on_disk = {
        "voxdesk." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == on_disk
    assert setuptools["package-dir"] == {f"voxdesk.{folder}": folder for folder in FOLDERS}


def test_the_install_claims_no_other_import_name(tmp_path: Path) -> None:
    # outside the repository, as a user's program would import
    code = "import importlib.util as u, sys; sys.exit(0 if u.find_spec(sys.argv[1]) else 3)"
    found = {
        name: subprocess.run([sys.executable, "-c", code, name], cwd=tmp_path).returncode == 0
        for name in ("voxdesk.core", *FOLDERS)
    }
    assert found == {"voxdesk.core": True} | {folder: False for folder in FOLDERS}


def test_the_command_line_loads_no_sdk_until_a_command_needs_it() -> None:
    """`voxdesk --help` and every quick command pay only for what they use: the OpenAI SDK,
    Qt, discord.py and Whisper load when a command talks to them (0.5 s start, not 2)."""
    heavy = ("openai", "PySide6", "discord", "faster_whisper")
    code = "import sys, voxdesk.core.cli.app, voxdesk.desktop.main; print(*sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [name for name in heavy if name in run.stdout.split()] == []
