"""The Voxdesk window (PySide6 on a qasync loop) and the ``voxdesk`` entry point."""
