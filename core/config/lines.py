"""A list or a mapping setting written on one line, alike in the CLI and the window: a list as
``piper, espeak``, a mapping as ``123: en-US, 456: ru-RU``. Items stay text: the settings'
own validation checks them (a voice's name, a guild id)."""

from __future__ import annotations

from typing import Any


def as_line(value: Any) -> str:
    """``value`` as it is typed: a list as ``a, b``, a mapping as ``key: value, key: value``."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {as_line(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(as_line(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value if value is not None else "")


def list_from_line(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def mapping_from_line(text: str) -> dict[str, str]:
    """Raises ValueError, naming the item, for one that is not ``key: value``."""
    return dict(_pair(item) for item in list_from_line(text))


def _pair(item: str) -> tuple[str, str]:
    key, colon, value = (part.strip() for part in item.partition(":"))
    if not colon or not key or not value:
        raise ValueError(f"'{item}' is not a pair: write key: value, separated by commas")
    return key, value
