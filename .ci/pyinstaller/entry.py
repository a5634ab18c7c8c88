"""The bundle's entry point: the same ``voxdesk`` command as the wheel's."""

import multiprocessing

from voxdesk.desktop.main import main

if __name__ == "__main__":
    # The validator's worker processes are spawned: in a frozen app they start this executable
    # again, and freeze_support turns them into workers instead of new windows.
    multiprocessing.freeze_support()
    main()
