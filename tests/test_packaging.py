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
