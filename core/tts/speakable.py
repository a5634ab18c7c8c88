"""Chat text as it should sound: a reply written for the screen, made fit to be read aloud.

Model replies and Discord messages carry Markdown, links, mentions and code. A voice would
read those out symbol by symbol, so code blocks are left out, links become their site's name,
mentions and custom emoji go, and formatting marks are dropped from the words they mark.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.MULTILINE), replacement)
    for pattern, replacement in (
        (r"(?s)```.*?(?:```|\Z)", " "),  # a code block, closed or cut off
        (r"`([^`\n]*)`", r"\1"),  # inline code: its words
        (r"\[([^\]\n]+)\]\(https?://[^)\s]+\)", r"\1"),  # [text](link): the text
        (r"<?https?://(?:www\.)?([^/\s>]+)[^\s>]*>?", r"\1"),  # a bare link: its site
        (r"<a?:(\w+):\d+>", " "),  # a custom emoji
        (r"<(?:@[!&]?|#)\d+>", " "),  # a user, role or channel mention
        (r"^\s{0,3}(?:#{1,6}|>{1,3}|[-*+]|\d+[.)])\s+", ""),  # headings, quotes, list marks
        # emphasis, not the marks inside words and sums: snake_case, 2*3*4
        (r"(?<![\w*])(\*{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w*])", r"\2"),
        (r"(?<![\w_])(_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w_])", r"\2"),
        (r"(~~|\|\|)(?=\S)(.+?)(?<=\S)\1", r"\2"),  # struck out, spoiler
        (r"[ \t]{2,}", " "),  # what the removals leave behind
        (r" +([,.!?;:])", r"\1"),
        (r"\n[ \t]*(?=\n)", ""),
    )
)


def speakable(text: str) -> str:
    """``text`` without what should not be read aloud; may be empty (nothing to say)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip()
