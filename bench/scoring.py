"""Word error rate after the normalisation that fair comparison of engines needs.

Case, punctuation and hyphens are dropped and numerals are spelled out ("7" = "seven"), so an
engine is not charged for writing "Mr." where the reference says "mister".
"""

from __future__ import annotations

import re
import unicodedata

import jiwer
from num2words import num2words

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def normalize(text: str, language: str = "en") -> str:
    """Lower case, numerals as words, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "ru":
        text = text.replace("ё", "е")  # ё is optional in written Russian
    text = re.sub(r"[-‐‑–—_/]", " ", text)
    text = _NUMBER.sub(lambda match: f" {_spell(match.group(), language)} ", text)
    text = re.sub(r"[^\w\s']|(?<!\w)'|'(?!\w)", " ", text)
    words = [_ABBREVIATIONS.get(word, word) if language == "en" else word for word in text.split()]
    return " ".join(words)


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """WER of ``hypothesis`` against ``reference`` after ``normalize``; 0.0 is perfect."""
    reference, hypothesis = normalize(reference, language), normalize(hypothesis, language)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return float(jiwer.wer(reference, hypothesis or "<empty>"))


def error_counts(reference: str, hypothesis: str, language: str = "en") -> tuple[int, int]:
    """(word errors, reference words): sum these over clips for a corpus-level WER."""
    reference, hypothesis = normalize(reference, language), normalize(hypothesis, language)
    words = len(reference.split())
    if not hypothesis:
        return words, words
    result = jiwer.process_words(reference, hypothesis)
    return result.substitutions + result.deletions + result.insertions, words


def character_error_rate(reference: str, hypothesis: str, language: str = "zh") -> float:
    """CER, for languages written without spaces (Chinese)."""
    reference = normalize(reference, language).replace(" ", "")
    hypothesis = normalize(hypothesis, language).replace(" ", "")
    return float(jiwer.cer(reference, hypothesis or "<empty>"))


def _spell(number: str, language: str) -> str:
    value = float(number.replace(",", ".")) if any(c in number for c in ".,") else int(number)
    try:
        return str(num2words(value, lang=language))
    except NotImplementedError:
        return str(num2words(value, lang="en"))
