"""The language a text is spoken in: the one set, or with ``auto`` the text's own.

The assistant answers in the language it is spoken to; a voice set to one language read every
other answer with its sounds (an English reply in gTTS's Russian). py3langid (langid.py's
naive Bayes model, offline) tells the language of a reply in under a millisecond, among the
languages gTTS speaks; its first use loads the model (about 0.4 s, mostly outside the GIL) in
a worker thread. A few words are too few to tell ("Ok" read as Hausa, "Хорошо" as Ukrainian):
below an even chance, the language last told for sure is spoken; before any, English for text in
Latin letters, else the best guess, which at least reads the script.
"""

from __future__ import annotations

import asyncio
import functools
import unicodedata
from typing import Any

AUTO = "auto"
UNSURE = "en"
_LEAST_PROBABILITY = 0.5


class SpokenLanguage:
    """Which language to speak each text in; one per voice, remembering the last sure one."""

    def __init__(self) -> None:
        self.last_sure: str | None = None

    async def of(self, text: str, language: str) -> str:
        """``language``, or for ``auto`` the language ``text`` is written in (ISO 639-1)."""
        if language != AUTO:
            return language
        code, probability = await asyncio.to_thread(_identifier().classify, text)
        if probability >= _LEAST_PROBABILITY:
            self.last_sure = str(code)
            return self.last_sure
        if self.last_sure is not None:
            return self.last_sure
        return UNSURE if _in_latin_letters(text) else str(code)


def _in_latin_letters(text: str) -> bool:
    return all(unicodedata.name(c, "").startswith("LATIN") for c in text if c.isalpha())


@functools.cache
def _identifier() -> Any:
    from gtts.lang import tts_langs
    from py3langid.langid import _load_identifier  # the module's loader, with probabilities

    identifier = _load_identifier(norm_probs=True)
    spoken = {code.split("-")[0] for code in tts_langs()}  # zh-CN and zh-TW are zh to it
    identifier.set_languages(sorted(spoken & set(identifier.nb_classes)))
    return identifier
