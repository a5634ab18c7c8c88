"""The ``voxdesk`` command itself, before any of its commands runs."""

from __future__ import annotations

import subprocess
import sys

INTERRUPTED = """
import sys

class CtrlC:  # pressed while the command line is being imported, its first second
    def find_spec(self, name, path=None, target=None):
        if name == "voxdesk.core.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["voxdesk", "--help"]
from voxdesk.desktop.main import main
main()
"""


def test_ctrl_c_while_the_command_line_is_imported_exits_quietly() -> None:
    """It printed a KeyboardInterrupt traceback; now the status a shell expects, 130."""
    run = subprocess.run(
        [sys.executable, "-c", INTERRUPTED], capture_output=True, text=True, timeout=60
    )
    assert (run.returncode, run.stderr) == (130, "")
