"""What the validator reports about one line: a finding, its severity and its description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

ERRORS = frozenset(
    {"invalid_json", "data_type", "missing_messages_list", "message_missing_key",
     "message_unrecognized_key", "unrecognized_role", "missing_content",
     "example_missing_assistant_message", "invalid_tool_calls", "tool_message_without_call",
     "tool_call_arguments_not_json", "invalid_tools", "preference_missing_input",
     "preference_input_not_ending_with_user", "invalid_preferred_output",
     "invalid_non_preferred_output", "too_few_examples", "mixed_formats"}
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based line of the JSONL file; 0 for findings about the whole file
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return "error" if self.code in ERRORS else "warning"


_DESCRIPTIONS = {
    "data_type": "an example or message is not a JSON object",
    "missing_messages_list": "no 'messages' list",
    "message_missing_key": "a message lacks 'role' or 'content'",
    "message_unrecognized_key": "a message has a key the API does not know",
    "unrecognized_role": "a message has an unknown role",
    "missing_content": "a message has no text content",
    "example_missing_assistant_message": "no assistant message to learn from",
    "missing_system_message": "no system message",
    "missing_user_message": "no user message",
    "empty_assistant_message": "an assistant message is empty or only whitespace",
    "invalid_tool_calls": "an assistant tool call lacks id, type 'function' or function name",
    "tool_call_arguments_not_json": "tool call arguments are not a JSON string",
    "tool_message_without_call": "a tool message answers no earlier tool call",
    "invalid_tools": "'tools' is not a list of functions with names",
    "preference_missing_input": "a preference pair has no input messages",
    "preference_input_not_ending_with_user": "a preference pair's input must end with a user turn",
    "invalid_preferred_output": "'preferred_output' must be one assistant message",
    "invalid_non_preferred_output": "'non_preferred_output' must be one assistant message",
    "preference_outputs_identical": "preferred and non-preferred outputs are the same",
    "mixed_formats": "chat examples and preference pairs are mixed in one file",
    "byte_order_mark": "the file starts with a UTF-8 byte-order mark, which some readers reject",
    "over_token_limit": "longer than the model's context; the rest is cut off in training",
    "secret_openai_key": "contains what looks like an OpenAI API key",
    "secret_discord_token": "contains what looks like a Discord token",
    "secret_aws_key": "contains what looks like an AWS access key",
    "secret_github_token": "contains what looks like a GitHub token",
    "secret_slack_token": "contains what looks like a Slack token",
    "secret_private_key": "contains a private key",
    "personal_email": "contains an email address",
    "personal_phone_number": "contains a phone number",
}


def describe(code: str) -> str:
    return _DESCRIPTIONS.get(code, code.replace("_", " "))
