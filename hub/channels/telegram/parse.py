"""Telegram Bot API updates, parsed: no I/O (https://core.telegram.org/bots/api#update).

A webhook request carries one ``Update`` with exactly one of ``message``,
``edited_message``, ``callback_query`` (the types the hub takes) or another type
(acknowledged, not used). Messages are keyed ``<chat id>:<message id>``; an edit
refers to the message it replaces, so it lands in the same conversation; a pressed
button (callback query) continues the customer's open conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from hub.channels import rich
from hub.errors import BadRequest, ValidationFailed

TAKEN = ("message", "edited_message", "callback_query")


class User(msgspec.Struct):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None

    @property
    def display_name(self) -> str | None:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or self.username


class Chat(msgspec.Struct):
    id: int
    type: str


class FileInfo(msgspec.Struct):
    """PhotoSize, Document, Audio, Voice, Video, VideoNote: what getFile needs."""

    file_id: str
    file_unique_id: str
    file_size: int | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None


class Location(msgspec.Struct):
    latitude: float
    longitude: float


class Venue(msgspec.Struct):
    location: Location
    title: str
    address: str


class Contact(msgspec.Struct):
    phone_number: str
    first_name: str
    last_name: str | None = None


class Button(msgspec.Struct):
    text: str
    callback_data: str | None = None


class Keyboard(msgspec.Struct):
    inline_keyboard: list[list[Button]] = []


class Message(msgspec.Struct):
    message_id: int
    date: int
    chat: Chat
    sender: User | None = msgspec.field(name="from", default=None)
    text: str | None = None
    caption: str | None = None
    photo: list[FileInfo] = []
    document: FileInfo | None = None
    audio: FileInfo | None = None
    voice: FileInfo | None = None
    video: FileInfo | None = None
    video_note: FileInfo | None = None
    location: Location | None = None
    venue: Venue | None = None
    contact: Contact | None = None
    edit_date: int | None = None
    reply_markup: Keyboard | None = None


class CallbackQuery(msgspec.Struct):
    id: str
    sender: User = msgspec.field(name="from")
    message: Message | None = None
    data: str | None = None


class Update(msgspec.Struct):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    callback_query: CallbackQuery | None = None


@dataclass(frozen=True)
class FileRef:
    file_id: str
    filename: str
    content_type: str | None
    size: int | None


@dataclass(frozen=True)
class TelegramMessage:
    """A customer's message as the adapter needs it (before files are fetched)."""

    chat_id: int
    user: User
    provider_id: str
    thread_key: str
    text: str
    received_at: datetime
    files: tuple[FileRef, ...] = ()
    edit_of: str | None = None
    callback_id: str | None = None  # a pressed button: answered so the client stops waiting


@dataclass(frozen=True)
class ParsedUpdate:
    update_id: int
    messages: tuple[TelegramMessage, ...] = ()
    ignored: tuple[str, ...] = field(default_factory=tuple)


_update = msgspec.json.Decoder(Update)
_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])


def parse_update(body: bytes, *, group_chats: bool = False) -> ParsedUpdate:
    """Parse a verified webhook body; BadRequest/ValidationFailed when it is not an Update."""
    try:
        update = _update.decode(body)
        kinds = [k for k in _keys.decode(body) if k != "update_id"]
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"not a Telegram update: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    kind = next((k for k in kinds if k in TAKEN), None)
    if kind is None:
        return ParsedUpdate(update.update_id, ignored=tuple(f"update {k}" for k in kinds) or ("empty update",))
    if update.callback_query is not None:
        parsed: TelegramMessage | str = _callback(update.callback_query)
    else:
        message = update.message or update.edited_message
        assert message is not None
        parsed = _message(message, edited=update.edited_message is not None)
    if isinstance(parsed, str):
        return ParsedUpdate(update.update_id, ignored=(parsed,))
    if not group_chats and parsed.chat_id != parsed.user.id:
        return ParsedUpdate(update.update_id, ignored=(f"{kind} in a group chat",))
    return ParsedUpdate(update.update_id, messages=(parsed,))


def _message(message: Message, *, edited: bool) -> TelegramMessage | str:
    user = message.sender
    if user is None or user.is_bot:
        return "message from a bot or a channel"
    if message.chat.type == "channel":
        return "channel post"
    key = f"{message.chat.id}:{message.message_id}"
    lines = [t for t in (message.text, message.caption) if t]
    if message.venue is not None:
        venue = message.venue
        lines.append(rich.location_text(venue.location.latitude, venue.location.longitude, venue.title, venue.address))
    elif message.location is not None:
        lines.append(rich.location_text(message.location.latitude, message.location.longitude))
    if message.contact is not None:
        card = message.contact
        lines.append(rich.contact_text(" ".join(p for p in (card.first_name, card.last_name) if p), [card.phone_number]))
    files = _files(message)
    if not lines and not files:
        return "message without text or files (sticker, poll, ...)"
    edit_date = message.edit_date if edited else None
    return TelegramMessage(
        chat_id=message.chat.id,
        user=user,
        provider_id=f"{key}:edit:{edit_date}" if edit_date is not None else key,
        thread_key=key,  # an edit finds the conversation of the message it replaces
        text="\n".join(lines),
        received_at=datetime.fromtimestamp(edit_date or message.date, tz=UTC),
        files=files,
        edit_of=key if edit_date is not None else None,
    )


def _files(message: Message) -> tuple[FileRef, ...]:
    found: list[FileRef] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width or 0, p.file_size or 0))
        found.append(FileRef(largest.file_id, f"photo-{largest.file_unique_id}.jpg", "image/jpeg", largest.file_size))
    for kind, default_type, suffix in (
        ("document", None, ""), ("audio", "audio/mpeg", ".mp3"), ("voice", "audio/ogg", ".ogg"),
        ("video", "video/mp4", ".mp4"), ("video_note", "video/mp4", ".mp4"),
    ):
        item: FileInfo | None = getattr(message, kind)
        if item is not None:
            name = item.file_name or f"{kind}-{item.file_unique_id}{suffix}"
            found.append(FileRef(item.file_id, name, item.mime_type or default_type, item.file_size))
    return tuple(found)


def _callback(query: CallbackQuery) -> TelegramMessage | str:
    if query.sender.is_bot:
        return "callback query from a bot"
    if query.message is None:
        return "callback query without its message (inline mode)"
    label = next(
        (
            button.text
            for row in (query.message.reply_markup.inline_keyboard if query.message.reply_markup else [])
            for button in row
            if button.callback_data is not None and button.callback_data == query.data
        ),
        None,
    )
    chat_id = query.message.chat.id
    return TelegramMessage(
        chat_id=chat_id,
        user=query.sender,
        provider_id=f"callback:{query.id}",
        thread_key=f"{chat_id}:callback:{query.id}",
        text=rich.choice_text(label or query.data or "(button)", query.data),
        received_at=datetime.now(UTC),
        callback_id=query.id,
    )


def chat_of(thread_key: str) -> str:
    """The chat a reply goes to, from a conversation's thread key (``<chat id>:...``)."""
    chat, _, _rest = thread_key.partition(":")
    if not chat.lstrip("-").isdigit():
        raise ValueError(f"not a Telegram thread key: {thread_key!r}")
    return chat
