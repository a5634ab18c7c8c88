"""Which platforms voxdesk installs on from wheels alone: pip resolves it once per platform.

    python -m bench.platform_wheels [--python 3.11]

For each target, pip resolves voxdesk's runtime requirements with ``--only-binary=:all:`` and
the target's platform tags, without installing or downloading wheels (``--dry-run``; the index
serves each wheel's metadata on its own). The versions installed here are the constraints, so
the answer is about this dependency set; what only another platform needs (pywin32-ctypes for
keyring on Windows, say) resolves freely. It asks the package index, so it is run by hand and
its table copied into the README, never from the tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "platform_wheels.json"
# pip widens a macOS tag to the older releases it accepts (macOS 14 takes 11 and universal2),
# but takes a manylinux tag as it is: Linux lists glibc 2.17 (CentOS 7) to 2.35 (Ubuntu 22.04).
LINUX = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(35, 16, -1))
PLATFORMS = {
    "Linux x86_64": (LINUX, {"sys_platform": "linux", "platform_system": "Linux",
                             "os_name": "posix", "platform_machine": "x86_64"}),
    "Windows x64": (("win_amd64",), {"sys_platform": "win32", "platform_system": "Windows",
                                     "os_name": "nt", "platform_machine": "AMD64"}),
    "macOS arm64": (("macosx_14_0_arm64",), {"sys_platform": "darwin", "platform_system": "Darwin",
                                             "os_name": "posix", "platform_machine": "arm64"}),
    "macOS x86_64": (("macosx_14_0_x86_64",), {"sys_platform": "darwin",
                                               "platform_system": "Darwin", "os_name": "posix",
                                               "platform_machine": "x86_64"}),
}  # fmt: skip


def closure(environment: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Every distribution voxdesk needs on a platform: its version here, and what is asked.

    Installed distributions are pinned and followed; one installed only elsewhere (no metadata
    here) is not pinned.
    """
    found: dict[str, tuple[str, str]] = {}
    pending = [Requirement(r) for r in metadata.requires("voxdesk") or []]
    pending = [r for r in pending if r.marker is None or "extra" not in str(r.marker)]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            found[name] = ("", str(requirement.specifier))
            continue
        found[name] = (f"=={dist.version}", str(requirement.specifier))
        for extra in ("", *requirement.extras):
            for line in dist.requires or []:
                nested = Requirement(line)
                if nested.marker is None or nested.marker.evaluate(environment | {"extra": extra}):
                    pending.append(nested)
    return found


def wheel_for(
    name: str, versions: tuple[str, str], tags: tuple[str, ...], python: str
) -> str | None:
    """The wheel pip would pick for this platform: this version's, else the newest one allowed.

    The second is what pip itself falls back to when a release has no wheel for a platform.
    """
    for version in dict.fromkeys(versions):
        if wheel := _wheel(name + version, tags, python):
            return wheel
    return None


def _wheel(requirement: str, tags: tuple[str, ...], python: str) -> str | None:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--no-deps", "--quiet", "--only-binary=:all:", *(f"--platform={tag}" for tag in tags),
             "--python-version", python, "--implementation", "cp", "--report", str(report),
             requirement],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            return None
        (item,) = json.loads(report.read_text("utf-8"))["install"]
    return str(item["download_info"]["url"].rsplit("/", 1)[1])


def describe(wheel: str | None, version: str) -> str:
    """Where a wheel runs ('any', or its platform tags), and its version if not this one."""
    if wheel is None:
        return "NO WHEEL"
    _, found, _, tags = parse_wheel_filename(wheel)
    where = ".".join(sorted({tag.platform for tag in tags}))
    return where if version in ("", f"=={found}") else f"{found}: {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.11", help="Python version of the targets")
    args = parser.parse_args()
    wanted = {label: closure(env) for label, (_, env) in PLATFORMS.items()}
    jobs = {
        (label, name): (name, version, PLATFORMS[label][0], args.python)
        for label, needs in wanted.items()
        for name, version in needs.items()
    }
    with ThreadPoolExecutor(4) as pool:  # each check waits on the index, not the CPU
        wheels = dict(zip(jobs, pool.map(lambda job: wheel_for(*job), jobs.values()), strict=True))
    table = Table("distribution", *PLATFORMS, title=f"Compiled wheels for CPython {args.python}")
    pure = 0
    for name in sorted({name for needs in wanted.values() for name in needs}):
        version = next(needs[name][0] for needs in wanted.values() if name in needs)
        cells = [
            describe(wheels[label, name], version) if (label, name) in wheels else "not needed"
            for label in PLATFORMS
        ]
        if set(cells) <= {"any", "not needed"}:
            pure += 1  # one wheel for every platform: nothing to tell
            continue
        table.add_row(f"{name}{version}", *cells)
    table.caption = f"and {pure} pure-Python distributions (py3-none-any)"
    console = Console(width=200)
    console.print(table)
    for label in PLATFORMS:
        missing = [name for (where, name), wheel in wheels.items() if where == label and not wheel]
        verdict = f"FAIL: no wheel for {', '.join(missing)}" if missing else "PASS"
        console.print(f"{label}: {verdict}")
    RESULTS.parent.mkdir(exist_ok=True)
    rows = [{"platform": label, "distribution": name, "wheel": wheel}
            for (label, name), wheel in wheels.items()]  # fmt: skip
    RESULTS.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
