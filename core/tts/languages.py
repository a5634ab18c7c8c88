"""The language a text is spoken in: the one set, or with ``auto`` the text's own.

The assistant answers in the language it is spoken to; a voice set to one language read every
other answer with its sounds (an English reply in gTTS's Russian). py3langid (langid.py's
naive Bayes model, offline) tells the language of a reply in under a millisecond, among the
languages gTTS speaks; its first use loads the model (about 0.4 s, mostly outside the GIL) in
a worker thread. A few words are too few to tell ("Ok" read as Hausa): below an even chance,
text in plain Latin letters is spoken in English; other scripts keep the best guess, which is
a language of their script ("Привет" read as Serbian).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

AUTO = "auto"
UNSURE = "en"  # spoken where the text is too short to tell its language
_LEAST_PROBABILITY = 0.5


async def spoken_language(text: str, language: str) -> str:
    """``language``, or for ``auto`` the language ``text`` is written in (an ISO 639-1 code)."""
    if language != AUTO:
        return language
    return await asyncio.to_thread(_written_in, text)


def _written_in(text: str) -> str:
    code, probability = _identifier().classify(text)
    return UNSURE if probability < _LEAST_PROBABILITY and text.isascii() else str(code)


@functools.cache
def _identifier() -> Any:
    from gtts.lang import tts_langs
    from py3langid.langid import _load_identifier  # the module's loader, with probabilities

    identifier = _load_identifier(norm_probs=True)
    spoken = {code.split("-")[0] for code in tts_langs()}  # zh-CN and zh-TW are zh to it
    identifier.set_languages(sorted(spoken & set(identifier.nb_classes)))
    return identifier
