"""Message catalogs of the web UI (``web/i18n/<lang>.json``) and the choice of language.

One catalog per language serves both sides: templates call ``t(key)``, and the page
embeds the same catalog for ``web/static/js/i18n.js``. A user's saved ``locale`` wins
over the browser's ``Accept-Language``; English is the fallback.
"""

from __future__ import annotations

import json
import string
from functools import cache
from pathlib import Path
from typing import Any

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
CATALOG_DIR = WEB_DIR / "i18n"
LANGUAGES: tuple[str, ...] = ("en", "de")
DEFAULT_LANGUAGE = "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    """The catalog of ``lang`` (one of ``LANGUAGES``), read once."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for {lang!r}")
    data: dict[str, str] = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def language_of(locale: str | None) -> str | None:
    """The supported language of a locale tag such as ``de-AT``, or None."""
    if not locale:
        return None
    lang = locale.strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in LANGUAGES else None


def negotiate(accept_language: str | None, user_locale: str | None = None) -> str:
    """The UI language: the user's setting, else the best-rated supported browser language."""
    chosen = language_of(user_locale)
    if chosen is not None:
        return chosen
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        lang = language_of(tag)
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best


class Translator:
    """``t("key", name=value)``: the catalog text with ``{name}`` filled in; unknown keys show as the key."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = catalog(lang)
        self._fallback = catalog(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **params: Any) -> str:
        text = self.messages.get(key) or self._fallback.get(key) or key
        if not params:
            return text
        return string.Formatter().vformat(text, (), _Defaulting(params))


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
