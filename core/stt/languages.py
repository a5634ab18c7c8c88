"""Whisper's languages: the English names OpenAI's transcription API reports, and their codes.

The API's verbose_json gives the detected language by name ("russian"); everything else here
(faster-whisper, the settings, the transcripts) uses ISO 639-1 codes ("ru"). The table is
Whisper's own list of 100 languages plus the aliases its tokenizer accepts.
"""

from __future__ import annotations

import re

import langcodes

_CODES = """
en english, zh chinese, de german, es spanish, ru russian, ko korean, fr french, ja japanese,
pt portuguese, tr turkish, pl polish, ca catalan, nl dutch, ar arabic, sv swedish, it italian,
id indonesian, hi hindi, fi finnish, vi vietnamese, he hebrew, uk ukrainian, el greek,
ms malay, cs czech, ro romanian, da danish, hu hungarian, ta tamil, no norwegian, th thai,
ur urdu, hr croatian, bg bulgarian, lt lithuanian, la latin, mi maori, ml malayalam,
cy welsh, sk slovak, te telugu, fa persian, lv latvian, bn bengali, sr serbian,
az azerbaijani, sl slovenian, kn kannada, et estonian, mk macedonian, br breton, eu basque,
is icelandic, hy armenian, ne nepali, mn mongolian, bs bosnian, kk kazakh, sq albanian,
sw swahili, gl galician, mr marathi, pa punjabi, si sinhala, km khmer, sn shona, yo yoruba,
so somali, af afrikaans, oc occitan, ka georgian, be belarusian, tg tajik, sd sindhi,
gu gujarati, am amharic, yi yiddish, lo lao, uz uzbek, fo faroese, ht haitian creole,
ps pashto, tk turkmen, nn nynorsk, mt maltese, sa sanskrit, lb luxembourgish, my myanmar,
bo tibetan, tl tagalog, mg malagasy, as assamese, tt tatar, haw hawaiian, ln lingala,
ha hausa, ba bashkir, jw javanese, su sundanese, yue cantonese,
my burmese, ca valencian, nl flemish, ht haitian, lb letzeburgesch, ps pushto, pa panjabi,
ro moldavian, ro moldovan, si sinhalese, es castilian, zh mandarin
"""

CODE_OF_NAME = {
    name: code
    for code, name in (entry.strip().split(" ", 1) for entry in _CODES.split(",") if entry.strip())
}


def language_code(language: str | None) -> str | None:
    """'russian' -> 'ru'; a code, or a name Whisper does not know, is returned lower-cased."""
    if not language:
        return None
    return CODE_OF_NAME.get(language.strip().lower(), language.strip().lower())


WHISPER_CODES = frozenset(CODE_OF_NAME.values())
_TAG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")


def language_problem(tag: str, engine: str) -> str | None:
    """Why ``engine`` cannot transcribe speech in ``tag`` ('auto', 'ru', 'ru-RU'), or None.

    Whisper and OpenAI's API know Whisper's languages; Google takes any registered IETF tag
    (it knows more languages than Whisper); Sphinx ships an English model only.
    """
    if tag.lower() == "auto":
        return None  # Whisper detects it; Google and Sphinx fall back to their own default
    if not _TAG.fullmatch(tag):
        return f"'{tag}' is not a language tag such as 'en' or 'ru-RU'"
    primary = tag.replace("_", "-").split("-")[0].lower()
    if engine in ("whisper", "openai") and primary not in WHISPER_CODES:
        return f"the {engine} engine does not know the language '{tag}' (try 'en', 'ru' or 'auto')"
    if engine == "google" and not langcodes.tag_is_valid(tag.replace("_", "-")):
        return f"'{tag}' is not a registered language tag (such as 'en-US' or 'ru-RU')"
    if engine == "sphinx" and primary != "en":
        return f"the sphinx engine knows English only, not '{tag}'"
    return None
