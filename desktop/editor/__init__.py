"""The transcript editor: segments, words with their times, playback, undo."""

from voxdesk.desktop.editor.editor import TranscriptEditor, open_editor

__all__ = ["TranscriptEditor", "open_editor"]
