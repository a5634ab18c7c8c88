"""The assistant: one conversation per channel, trimmed to a token budget, one model for all."""

from __future__ import annotations

import asyncio
import importlib.resources
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voxdesk.core.config.settings import AssistantSettings
from voxdesk.core.config.store import SettingsWatch
from voxdesk.core.openai_client import LazyClient, OpenAIError, explain
from voxdesk.core.training.tokens import TOKENS_PER_MESSAGE, count_texts, encoding_for_model

if TYPE_CHECKING:
    import openai

Message = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    conversation: str
    prompt: tuple[Message, ...]  # what was sent: the context a correction refers to


def default_system_prompt() -> str:
    path = importlib.resources.files("voxdesk.resources").joinpath("prompts/system.md")
    return path.read_text("utf-8").strip()


class Assistant:
    def __init__(
        self,
        settings: AssistantSettings,
        client_factory: Callable[[], openai.AsyncOpenAI],
        client_settings: SettingsWatch | None = None,
    ) -> None:
        self.settings = settings
        self._openai = LazyClient(client_factory, client_settings)
        self._histories: dict[str, list[Message]] = {}
        self._turns: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def system_prompt(self) -> str:
        return self.settings.system_prompt or default_system_prompt()

    def history(self, conversation: str) -> list[Message]:
        return list(self._histories.get(conversation, []))

    def forget(self, conversation: str) -> None:
        self._histories.pop(conversation, None)

    async def close(self) -> None:
        """Close the client's connections; a later reply opens a new client."""
        await self._openai.close()

    async def reply(
        self,
        conversation: str,
        text: str,
        *,
        author: str | None = None,
        messages: list[Message] | None = None,
    ) -> Reply:
        """Answer ``text`` in ``conversation`` (a channel id, say), remembering the exchange.

        ``messages`` replaces the remembered history with an explicit conversation (used by
        ``!test`` with a JSON list of messages).
        """
        user: Message = {"role": "user", "content": text}
        if author:
            user["name"] = _safe_name(author)
        if messages is not None:
            prompt = self._prompt([*messages, user])
            return Reply(await self._complete(prompt), self.model, conversation, tuple(prompt))
        # One exchange at a time in a conversation: two at once would each miss the other.
        async with self._turns[conversation]:
            prompt = self._prompt([*self.history(conversation), user])
            answer = await self._complete(prompt)
            self._histories[conversation] = [*prompt[1:], {"role": "assistant", "content": answer}]
        return Reply(answer, self.model, conversation, tuple(prompt))

    def _prompt(self, messages: list[Message]) -> list[Message]:
        return [{"role": "system", "content": self.system_prompt}, *self._trim(messages)]

    async def _complete(self, prompt: list[Message]) -> str:
        import openai  # where used, as in voxdesk.core.openai_client: it is slow to import

        try:
            async with self._openai.use() as client:
                response = await client.chat.completions.create(
                    model=self.model,
                    messages=prompt,  # type: ignore[arg-type]
                    max_completion_tokens=self.settings.max_reply_tokens,
                    temperature=self.settings.temperature,
                )
        except openai.OpenAIError as error:
            raise explain(error) from error
        if not response.choices or not response.choices[0].message.content:
            raise OpenAIError("The model returned an empty reply.", hint="Try asking again.")
        return response.choices[0].message.content.strip()

    def _trim(self, messages: list[Message]) -> list[Message]:
        """Drop the oldest messages until the conversation fits the token budget."""
        texts = [str(message.get("content") or "") for message in messages]
        costs = [n + TOKENS_PER_MESSAGE for n in count_texts(texts, encoding_for_model(self.model))]
        budget = self.settings.history_tokens
        while len(messages) > 1 and sum(costs) > budget:
            messages, costs = messages[1:], costs[1:]
        # A conversation should not open with the assistant's half of an exchange.
        while len(messages) > 1 and messages[0]["role"] == "assistant":
            messages, costs = messages[1:], costs[1:]
        return messages


def _safe_name(author: str) -> str:
    """The API allows names of letters, digits, '_' and '-' up to 64 characters."""
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "_" for ch in author)
    return cleaned[:64] or "user"
