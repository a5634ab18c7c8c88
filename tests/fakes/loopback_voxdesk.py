"""``voxdesk`` with discord.py's two endpoints on a loopback Discord, for tests of real processes.

python -m tests.fakes.loopback_voxdesk http://127.0.0.1:PORT [voxdesk arguments]
"""

from __future__ import annotations

import sys

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from voxdesk.desktop.main import main

if __name__ == "__main__":
    url = sys.argv.pop(1)
    # the two class attributes FakeDiscord.point_client_here sets, set for good
    Route.BASE = f"{url}/api/v10"  # type: ignore[misc]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url.replace("http://", "ws://") + "/gateway/ws")
    sys.argv[0] = "voxdesk"
    main()
