"""List and mapping settings read and are typed as plain text (``piper, espeak``; ``123: en-US``),
not JSON; a refusal names the field."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from voxdesk.core.services import Services
from voxdesk.desktop.pages.settings import SettingsPage


def line(page: SettingsPage, section: str, name: str) -> QLineEdit:
    widget = page.editors[(section, name)].widget
    assert isinstance(widget, QLineEdit)
    return widget


def test_lists_and_mappings_round_trip_as_comma_separated_text(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    fallbacks = line(page, "tts", "fallbacks")
    assert fallbacks.text() == "piper, espeak"
    fallbacks.setText("espeak ,piper,")
    line(page, "discord", "guild_languages").setText("123: en-US, 456:ru-RU")
    line(page, "discord", "guild_translate_captions").setText("789: true")
    assert qloop.run_until_complete(page.save()), page.status.text()
    settings = services.settings
    assert settings.tts.fallbacks == ["espeak", "piper"]
    assert settings.discord.guild_languages == {"123": "en-US", "456": "ru-RU"}
    assert settings.discord.guild_translate_captions == {"789": True}
    assert fallbacks.text() == "espeak, piper"
    assert line(page, "discord", "guild_translate_captions").text() == "789: true"
    fallbacks.setText("")
    assert qloop.run_until_complete(page.save())
    assert settings.tts.fallbacks == []


def test_a_refusal_names_the_field(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    line(page, "discord", "guild_languages").setText("123 en-US")
    assert not qloop.run_until_complete(page.save())
    said = page.status.text()
    assert said.startswith("Not saved: Discord bot, Guild languages: '123 en-US' is not a pair")
    assert "JSON" not in said
    line(page, "discord", "guild_languages").setText("")
    line(page, "tts", "fallbacks").setText("piper, wizard")
    assert not qloop.run_until_complete(page.save())
    assert "tts.fallbacks" in page.status.text()
    assert services.settings.tts.fallbacks == ["piper", "espeak"]
