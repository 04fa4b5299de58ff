"""The options of a ``twilio_voice`` channel, checked at start-up (pure: no I/O).

An IVR menu whose options send the caller to a hub queue (or switch the language),
business hours from a routing calendar, the prompts per language (German and English
built in, every text overridable), hold music, position announcements, how long an
agent's phone rings, voicemail, and call recording with the announcement data
protection law asks for before anything is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from hub.config import ChannelConfig, Settings
from hub.errors import ConfigError
from hub.routing.calendar import Calendar
from hub.routing.settings import parse_routing

# The keys the shared Twilio account settings read (hub.channels.twilio.account).
ACCOUNT_KEYS = frozenset({"account_sid", "auth_token", "auth_token_env", "api_base_url", "api_timeout_seconds"})
OWN_KEYS = frozenset({
    "calendar", "languages", "hold_music_url", "announce_position", "ring_timeout", "record_calls",
    "voicemail", "voicemail_max_seconds", "transcribe", "menu", "menu_attempts", "prompts", "caller_id",
})
PROMPTS = (
    "welcome", "menu", "not_understood", "closed", "voicemail", "voicemail_thanks", "position",
    "recording_notice", "whisper", "goodbye",
)
_LANGUAGE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
_DIGIT = re.compile(r"^[0-9*#]$")
# Twilio transcribes recordings of up to two minutes.
MAX_TRANSCRIBED_SECONDS = 120

BUILTIN_PROMPTS: Mapping[str, Mapping[str, str]] = {
    "de-DE": {
        "welcome": "Willkommen.",
        "menu": "Bitte wählen Sie.",
        "not_understood": "Das habe ich leider nicht verstanden.",
        "closed": "Wir sind gerade nicht erreichbar.",
        "voicemail": (
            "Sie können uns nach dem Signalton eine Nachricht hinterlassen. "
            "Ihre Nachricht wird aufgezeichnet und schriftlich übertragen."
        ),
        "voicemail_thanks": "Vielen Dank für Ihre Nachricht. Auf Wiederhören.",
        "position": "Sie sind an Position {position} in der Warteschlange.",
        "recording_notice": (
            "Hinweis zum Datenschutz: Dieses Gespräch wird zur Qualitätssicherung aufgezeichnet. "
            "Wenn Sie nicht einverstanden sind, beenden Sie bitte jetzt den Anruf."
        ),
        "whisper": "Anruf aus der Warteschlange {queue}.",
        "goodbye": "Auf Wiederhören.",
    },
    "en-US": {
        "welcome": "Welcome.",
        "menu": "Please make your choice.",
        "not_understood": "Sorry, I did not understand that.",
        "closed": "We are closed at the moment.",
        "voicemail": (
            "You can leave us a message after the tone. Your message will be recorded and transcribed."
        ),
        "voicemail_thanks": "Thank you for your message. Goodbye.",
        "position": "You are number {position} in the queue.",
        "recording_notice": (
            "Privacy notice: this call is recorded for quality purposes. "
            "If you do not agree, please hang up now."
        ),
        "whisper": "Call from the queue {queue}.",
        "goodbye": "Goodbye.",
    },
}


@dataclass(frozen=True, slots=True)
class MenuOption:
    """One IVR choice: a key and/or spoken keywords leading to a queue, or to another language."""

    digit: str | None
    keywords: tuple[str, ...]
    queue: str | None = None
    language: str | None = None

    def matches(self, digits: str | None, speech: str | None) -> bool:
        """Whether the pressed key or the recognized speech chooses this option."""
        if digits and self.digit is not None and digits.strip() == self.digit:
            return True
        if not speech:
            return False
        words = re.findall(r"\w+", speech.casefold())
        return any(keyword.casefold() in words for keyword in self.keywords)


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    """Everything a voice channel is configured with, apart from the account."""

    default_queue: str
    calendar: Calendar | None
    languages: tuple[str, ...]
    menu: tuple[MenuOption, ...]
    menu_attempts: int
    prompts: Mapping[str, Mapping[str, str]]
    hold_music_url: str | None
    announce_position: bool
    ring_timeout: int
    record_calls: bool
    voicemail: bool
    voicemail_max_seconds: int
    transcribe: bool
    caller_id: str | None = None

    @property
    def language(self) -> str:
        """The language a call starts in."""
        return self.languages[0]

    def prompt(self, language: str, key: str, **values: object) -> str:
        """The text of ``key`` in ``language`` (the first language for an unknown one), filled in."""
        texts = self.prompts.get(language) or self.prompts[self.language]
        return texts[key].format(**values) if values else texts[key]

    def choose(self, digits: str | None, speech: str | None) -> MenuOption | None:
        """The menu option the caller chose, or None."""
        return next((option for option in self.menu if option.matches(digits, speech)), None)

    def hints(self) -> str:
        """Speech recognition hints: every keyword of the menu."""
        return ", ".join(dict.fromkeys(k for option in self.menu for k in option.keywords))

    def known_language(self, value: str | None) -> str:
        return value if value in self.languages else self.language


def parse_voice_options(config: ChannelConfig, settings: Settings) -> VoiceOptions:
    """Check and convert the channel's options; a mistake stops start-up with the key's name."""
    where = f"channel {config.name!r}"
    raw = config.options
    unknown = sorted(set(raw) - OWN_KEYS - ACCOUNT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}")
    if not config.queue:
        raise ConfigError(f"{where}: a voice channel needs a queue (callers who choose nothing wait there)")
    routing = parse_routing(settings)
    queues = {q.name: q for q in routing.queues}
    languages = _languages(raw.get("languages", ["de-DE"]), where)
    menu = tuple(_option(item, i, where, queues, languages) for i, item in enumerate(_list(raw.get("menu", []), where)))
    _unique([o.digit for o in menu if o.digit is not None], f"{where}: menu digit")
    ring_timeout = _int(raw.get("ring_timeout", 20), f"{where}: ring_timeout", maximum=600)
    for name in sorted({config.queue, *(o.queue for o in menu if o.queue)}):
        if name not in queues:
            raise ConfigError(f"{where}: queue {name!r} is not one of [[queues]]")
        if queues[name].offer_timeout < ring_timeout:
            raise ConfigError(
                f"{where}: ring_timeout ({ring_timeout} s) is longer than queue {name!r}'s offer_timeout "
                f"({queues[name].offer_timeout:g} s); the agent's phone would ring after the offer ended"
            )
    calendar = None
    if (calendar_name := raw.get("calendar")) is not None:
        calendar = (routing.calendars or {}).get(str(calendar_name))
        if calendar is None:
            raise ConfigError(f"{where}: calendar {calendar_name!r} is not one of [routing.calendars]")
    max_seconds = _int(raw.get("voicemail_max_seconds", MAX_TRANSCRIBED_SECONDS), f"{where}: voicemail_max_seconds",
                       maximum=3600)
    transcribe = _bool(raw.get("transcribe", True), f"{where}: transcribe")
    if transcribe and max_seconds > MAX_TRANSCRIBED_SECONDS:
        raise ConfigError(f"{where}: voicemail_max_seconds may be at most {MAX_TRANSCRIBED_SECONDS} with transcribe")
    return VoiceOptions(
        default_queue=config.queue,
        calendar=calendar,
        languages=languages,
        menu=menu,
        menu_attempts=_int(raw.get("menu_attempts", 2), f"{where}: menu_attempts", maximum=5),
        prompts=_prompts(raw.get("prompts", {}), languages, where),
        hold_music_url=_url(raw.get("hold_music_url"), f"{where}: hold_music_url"),
        announce_position=_bool(raw.get("announce_position", True), f"{where}: announce_position"),
        ring_timeout=ring_timeout,
        record_calls=_bool(raw.get("record_calls", False), f"{where}: record_calls"),
        voicemail=_bool(raw.get("voicemail", True), f"{where}: voicemail"),
        voicemail_max_seconds=max_seconds,
        transcribe=transcribe,
        caller_id=_text(raw.get("caller_id"), f"{where}: caller_id"),
    )


def _languages(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: languages must list language tags like \"de-DE\"")
    for item in value:
        if not isinstance(item, str) or not _LANGUAGE.match(item):
            raise ConfigError(f"{where}: languages: {item!r} is not a language tag like \"de-DE\"")
    _unique(value, f"{where}: languages")
    return tuple(value)


def _option(item: object, index: int, where: str, queues: Mapping[str, Any], languages: Sequence[str]) -> MenuOption:
    at = f"{where}: menu[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{at} must be a table with digit, keywords and queue (or language)")
    unknown = sorted(set(item) - {"digit", "keywords", "queue", "language"})
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}")
    digit = item.get("digit")
    if digit is not None and (not isinstance(digit, str) or not _DIGIT.match(digit)):
        raise ConfigError(f"{at}: digit must be one key: 0-9, * or #")
    keywords = item.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
        raise ConfigError(f"{at}: keywords must be a list of words")
    if digit is None and not keywords:
        raise ConfigError(f"{at}: needs a digit or keywords")
    queue, language = item.get("queue"), item.get("language")
    if (queue is None) == (language is None):
        raise ConfigError(f"{at}: give either a queue or a language")
    if queue is not None and queue not in queues:
        raise ConfigError(f"{at}: queue {queue!r} is not one of [[queues]]")
    if language is not None and language not in languages:
        raise ConfigError(f"{at}: language {language!r} is not one of the channel's languages")
    return MenuOption(digit, tuple(k.strip() for k in keywords), queue, language)


def _prompts(value: object, languages: Sequence[str], where: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: prompts must be a table per language ([channels.prompts.de-DE])")
    unknown = sorted(set(value) - set(languages))
    if unknown:
        raise ConfigError(f"{where}: prompts for {', '.join(unknown)}, which is not one of the channel's languages")
    result: dict[str, dict[str, str]] = {}
    for language in languages:
        given = value.get(language, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: prompts.{language} must be a table of texts")
        bad = sorted(set(given) - set(PROMPTS))
        if bad:
            raise ConfigError(f"{where}: prompts.{language}: unknown text(s) {', '.join(bad)} (known: {', '.join(PROMPTS)})")
        texts = {**BUILTIN_PROMPTS.get(language, {}), **given}
        missing = [key for key in PROMPTS if not isinstance(texts.get(key), str) or not texts[key].strip()]
        if missing:
            raise ConfigError(f"{where}: prompts.{language} needs {', '.join(missing)}")
        for key, placeholder in (("position", "{position}"), ("whisper", "{queue}")):
            _check_template(texts[key], placeholder, f"{where}: prompts.{language}.{key}")
        result[language] = texts
    return result


def _check_template(text: str, placeholder: str, where: str) -> None:
    name = placeholder.strip("{}")
    try:
        text.format(**{name: "x"})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{where}: only the placeholder {placeholder} may be used") from exc


def _url(value: object, where: str) -> str | None:
    if value is None:
        return None
    url = URL(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"{where} must be an http(s) URL")
    return str(value)


def _text(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a string")
    return value.strip()


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: menu must be a list of [[channels.menu]] tables")
    return value


def _unique(values: Sequence[object], where: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{where} {value!r} appears twice")
        seen.add(value)


def _int(value: object, where: str, *, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ConfigError(f"{where} must be a whole number from 1 to {maximum} (got {value!r})")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value
