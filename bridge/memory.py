"""What the bot remembers of its recent replies, shared by the cogs that answer and that learn."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from voxdesk.core.assistant.chat import Message, Reply

Messages = list[Message]
REMEMBERED_REPLIES = 2000


class ReplyMemory:
    """The conversation behind each recent reply (for !correct), and each person's last exchange
    in each channel (for !feedback).

    Both are bounded to the most recent ``size``: a busy bot meets more people and replies than it
    should hold forever.
    """

    def __init__(self, size: int = REMEMBERED_REPLIES) -> None:
        self.size = size
        self._prompts: OrderedDict[int, Messages] = OrderedDict()
        self._exchanges: OrderedDict[tuple[int, int], Messages] = OrderedDict()

    def remember(self, reply_id: int, channel_id: int, author_id: int, reply: Reply) -> None:
        """Keep what ``reply`` (sent as message ``reply_id``) answered, and for whom."""
        conversation = [m for m in reply.prompt if m["role"] != "system"]
        self._keep(self._prompts, reply_id, conversation)
        exchange = [*conversation, {"role": "assistant", "content": reply.text}]
        self._keep(self._exchanges, (channel_id, author_id), exchange)

    def prompt_of(self, reply_id: int) -> Messages:
        """The conversation that the reply ``reply_id`` answered; [] when it is forgotten."""
        return list(self._prompts.get(reply_id, []))

    def last_exchange(self, channel_id: int, author_id: int) -> Messages:
        """The person's last question and the reply to it in that channel; [] if none."""
        return list(self._exchanges.get((channel_id, author_id), []))

    def _keep(self, memory: OrderedDict[Any, Messages], key: object, value: Messages) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > self.size:
            memory.popitem(last=False)
