"""Chat replies for the bot and the desktop, from the active (possibly fine-tuned) model."""

from voxdesk.core.assistant.chat import (
    Assistant,
    Reply,
    activate_model,
    default_system_prompt,
    save_instruction,
)

__all__ = ["Assistant", "Reply", "activate_model", "default_system_prompt", "save_instruction"]
