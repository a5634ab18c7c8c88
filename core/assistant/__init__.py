"""Chat replies for the bot and the desktop, from the active (possibly fine-tuned) model."""

from voxdesk.core.assistant.chat import Assistant, Reply, default_system_prompt

__all__ = ["Assistant", "Reply", "default_system_prompt"]
