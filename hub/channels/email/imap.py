"""One IMAP connection through aioimaplib, with the library's errors translated once.

Only what the mailbox needs: select a folder (UIDVALIDITY, UIDNEXT, EXISTS), search
and fetch by UID without touching ``\\Seen`` (``BODY.PEEK``), flag, move, IDLE.
STARTTLS is done here with ``asyncio``'s ``start_tls`` because aioimaplib offers
TLS only from the first byte. Every command has the channel's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aioimaplib

from hub.channels.email.settings import ImapSettings

log = logging.getLogger(__name__)

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_LITERAL = re.compile(rb"\{(\d+)\}$")
_CODE = re.compile(r"\[(UIDVALIDITY|UIDNEXT) (\d+)\]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapError(Exception):
    """The server or the connection failed; the mailbox reconnects with backoff."""


class ImapCommandFailed(ImapError):
    """The server answered NO or BAD."""


@dataclass(frozen=True, slots=True)
class FolderInfo:
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a cheap FETCH tells about a message before its body is read."""

    uid: int
    size: int
    internaldate: datetime | None


def uid_set(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` → ``"1:3,7"`` (IMAP sequence-set syntax, RFC 3501 section 9)."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def imap_date(day: date) -> str:
    """``date`` in IMAP's search syntax, e.g. ``1-Feb-2024`` (month names are fixed English)."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def quote_mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string."""
    if any(ch in name for ch in "\r\n\x00"):
        raise ValueError("folder names cannot contain line breaks")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_internaldate(value: bytes) -> datetime | None:
    try:
        return parsedate_to_datetime(value.decode().replace("-", " ", 2))
    except (TypeError, ValueError, IndexError):
        return None


def fetch_items(lines: Sequence[Any]) -> list[tuple[bytes, bytes | None]]:
    """Split a FETCH response into (item line, literal or None) pairs."""
    items: list[tuple[bytes, bytes | None]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not isinstance(line, bytes) or b" FETCH (" not in line:
            continue
        literal: bytes | None = None
        if _LITERAL.search(line) and index < len(lines) and isinstance(lines[index], bytearray | bytes):
            literal = bytes(lines[index])
            index += 1
            # The rest of the item (flags after the body, the closing parenthesis).
            if index < len(lines) and isinstance(lines[index], bytes) and b" FETCH (" not in lines[index]:
                line = line + b" " + lines[index]
                index += 1
        items.append((line, literal))
    return items


class _Fetch(aioimaplib.FetchCommand):  # type: ignore[misc]
    """aioimaplib's FETCH with the same answers in linear time.

    The library recounts the parentheses of the whole current item on every line it
    receives and restarts a timer per line, which turns a fetch of a few hundred
    mails quadratic (half of the hub's CPU time in ``bench/email_ingest.py``). Here the
    balance is kept as lines arrive (literal bodies, appended as ``bytearray``, do not
    count, as in the library), and the inactivity timeout is one timer that re-arms
    itself.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._balance = 0
        self._last_activity = 0.0
        super().__init__(*args, **kwargs)

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if type(line) is bytes:
            if self.FETCH_MESSAGE_DATA_RE.match(line):
                self._balance = 0
            self._balance += line.count(b"(") - line.count(b")")
        super().append_to_resp(line, result)

    def wait_data(self) -> bool:
        return self._balance != 0

    def _set_timer(self) -> None:
        if self._timeout is not None:
            self._last_activity = self._loop.time()
            self._timer = self._loop.call_later(self._timeout, self._check_idle)

    def _reset_timer(self) -> None:
        self._last_activity = self._loop.time()  # the armed timer looks at this

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last_activity
        if idle >= self._timeout:
            self._timeout_callback()
        else:
            self._timer = self._loop.call_later(self._timeout - idle, self._check_idle)


class ImapSession:
    """A logged-in connection. Use ``await ImapSession.open(settings)``; ``close()`` after."""

    def __init__(self, client: aioimaplib.IMAP4, settings: ImapSettings) -> None:
        self._client = client
        self._settings = settings
        self.capabilities: frozenset[str] = frozenset()

    @classmethod
    async def open(cls, settings: ImapSettings) -> ImapSession:
        """Connect, secure the connection as configured, and log in."""
        context = settings.tls_context() if settings.security == "tls" else None
        client = (
            aioimaplib.IMAP4_SSL(settings.host, settings.port, timeout=settings.timeout, ssl_context=context)
            if context is not None
            else aioimaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        )
        session = cls(client, settings)
        try:
            await session._greet_and_login()
        except BaseException:  # also a cancellation: never leave the socket behind
            await session.close()
            raise
        return session

    async def _greet_and_login(self) -> None:
        client, settings = self._client, self._settings
        try:
            await client.wait_hello_from_server()
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"cannot connect to {settings.host}:{settings.port}: {_describe(exc)}") from exc
        try:
            if settings.security == "starttls":
                await self._starttls()
            response = await client.login(settings.username, settings.password)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"login failed: {_describe(exc)}") from exc
        if response.result != "OK":
            raise ImapCommandFailed(f"login refused: {_text(response.lines)}")
        self.capabilities = frozenset(c.upper() for c in client.protocol.capabilities)
        if not self.capabilities or "IMAP4REV1" not in self.capabilities:
            await self._refresh_capabilities()

    async def _starttls(self) -> None:
        protocol = self._client.protocol
        capabilities = {c.upper() for c in protocol.capabilities}
        if "STARTTLS" not in capabilities:
            raise ImapError("the server does not offer STARTTLS; refusing to log in without TLS")
        response = await asyncio.wait_for(
            protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)),
            self._settings.timeout,
        )
        if response.result != "OK":
            raise ImapCommandFailed(f"STARTTLS refused: {_text(response.lines)}")
        context = self._settings.tls_context()
        assert context is not None and protocol.transport is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self._settings.host
        )
        protocol.transport = transport
        await self._refresh_capabilities()  # RFC 3501 6.2.1: capabilities may change after TLS

    async def _refresh_capabilities(self) -> None:
        await asyncio.wait_for(self._client.protocol.capability(), self._settings.timeout)
        self.capabilities = frozenset(c.upper() for c in self._client.protocol.capabilities)

    @property
    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities

    async def _run(self, call: Any, what: str) -> Any:
        try:
            response = await asyncio.wait_for(call, self._settings.timeout)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"{what}: {_describe(exc)}") from exc
        if response.result != "OK":
            raise ImapCommandFailed(f"{what} refused: {_text(response.lines)}")
        return response

    async def select(self, folder: str) -> FolderInfo:
        response = await self._run(self._client.select(quote_mailbox(folder)), f"SELECT {folder}")
        uidvalidity: int | None = None
        uidnext: int | None = None
        exists = 0
        for line in response.lines:
            text = line.decode(errors="replace") if isinstance(line, bytes | bytearray) else str(line)
            for code, value in _CODE.findall(text):
                if code == "UIDVALIDITY":
                    uidvalidity = int(value)
                else:
                    uidnext = int(value)
            if text.endswith(" EXISTS"):
                exists = int(text.split()[0])
        if uidvalidity is None:
            raise ImapError(f"SELECT {folder}: the server sent no UIDVALIDITY")
        return FolderInfo(uidvalidity, uidnext, exists)

    async def search(self, *criteria: str) -> list[int]:
        """UIDs matching ``criteria`` (e.g. ``"UID", "5:*"`` or ``"SINCE", "1-Feb-2024"``), ascending."""
        response = await self._run(self._client.uid_search(*criteria, charset=None), "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:
            text = bytes(line).decode(errors="replace") if isinstance(line, bytes | bytearray) else str(line)
            if text.upper().startswith("SEARCH"):
                text = text[6:]
            uids.extend(int(part) for part in text.split() if part.isdigit())
        return sorted(set(uids))

    async def _fetch(self, uids: Sequence[int], items: str, what: str) -> Any:
        protocol = self._client.protocol
        if protocol.state != "SELECTED":
            raise ImapError(f"{what}: no folder selected")
        command = _Fetch(
            protocol.new_tag(), uid_set(uids), items, prefix="UID", loop=protocol.loop, timeout=self._settings.timeout
        )
        try:
            response = await protocol.execute(command)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"{what}: {_describe(exc)}") from exc
        if response.result != "OK":
            raise ImapCommandFailed(f"{what} refused: {_text(response.lines)}")
        return response

    async def envelopes(self, uids: Sequence[int]) -> dict[int, Envelope]:
        """Size and arrival time of ``uids``; a UID missing from the answer is gone."""
        response = await self._fetch(uids, "(UID RFC822.SIZE INTERNALDATE)", "UID FETCH sizes")
        found: dict[int, Envelope] = {}
        for line, _literal in fetch_items(response.lines):
            uid, size, when = _UID.search(line), _SIZE.search(line), _INTERNALDATE.search(line)
            if uid is not None and size is not None:
                found[int(uid.group(1))] = Envelope(
                    int(uid.group(1)), int(size.group(1)), _parse_internaldate(when.group(1)) if when else None
                )
        return found

    async def bodies(self, uids: Sequence[int], part: str = "BODY.PEEK[]") -> dict[int, bytes]:
        """The raw messages (or ``part`` of them) of ``uids``, read without setting ``\\Seen``."""
        response = await self._fetch(uids, f"(UID {part})", "UID FETCH bodies")
        found: dict[int, bytes] = {}
        for line, literal in fetch_items(response.lines):
            uid = _UID.search(line)
            if uid is not None and literal is not None:
                found[int(uid.group(1))] = literal
        return found

    async def mark_seen(self, uids: Sequence[int]) -> None:
        await self._run(self._client.uid("store", uid_set(uids), "+FLAGS.SILENT", "(\\Seen)"), "UID STORE \\Seen")

    async def create(self, folder: str) -> None:
        """Create ``folder``; an existing folder is fine."""
        try:
            await self._run(self._client.create(quote_mailbox(folder)), f"CREATE {folder}")
        except ImapCommandFailed as exc:
            if "exist" not in str(exc).lower():
                raise

    async def move(self, uids: Sequence[int], folder: str) -> None:
        """Move ``uids`` to ``folder``: MOVE (RFC 6851) if offered, else COPY, flag, expunge."""
        target = quote_mailbox(folder)
        if "MOVE" in self.capabilities:
            await self._run(self._client.uid("move", uid_set(uids), target), f"UID MOVE {folder}")
            return
        await self._run(self._client.uid("copy", uid_set(uids), target), f"UID COPY {folder}")
        await self._run(
            self._client.uid("store", uid_set(uids), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE \\Deleted"
        )
        if "UIDPLUS" in self.capabilities:
            await self._run(self._client.uid("expunge", uid_set(uids)), "UID EXPUNGE")
        else:
            await self._run(self._client.expunge(), "EXPUNGE")

    async def idle(self, seconds: float, stop: asyncio.Event) -> bool:
        """Wait in IDLE (RFC 2177) up to ``seconds`` or until ``stop``; True when the server announced a change."""
        client = self._client
        try:
            waiter = await client.idle_start(timeout=seconds + 30)
            push = asyncio.ensure_future(client.wait_server_push(timeout=seconds))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({push, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            changed = False
            if push.done() and not push.cancelled() and push.exception() is None:
                pushed = push.result()
                changed = any(
                    isinstance(line, bytes) and line.endswith((b"EXISTS", b"RECENT", b"EXPUNGE"))
                    for line in (pushed if isinstance(pushed, list) else [])
                )
            else:
                push.cancel()
            client.idle_done()
            await asyncio.wait_for(waiter, self._settings.timeout)
            return changed
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"IDLE: {_describe(exc)}") from exc

    async def noop(self) -> None:
        await self._run(self._client.noop(), "NOOP")

    async def close(self) -> None:
        """Log out; a dead connection is simply dropped. The socket is closed in any case."""
        try:
            if self._client.get_state() in ("NONAUTH", "AUTH", "SELECTED"):
                await asyncio.wait_for(self._client.logout(), 5)
        except Exception as exc:
            log.debug("IMAP logout failed: %s", type(exc).__name__)
        finally:
            connecting = getattr(self._client, "_client_task", None)
            if connecting is not None and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
            transport = self._client.protocol.transport if self._client.protocol else None
            if transport is not None:
                transport.close()


def _text(lines: Sequence[Any]) -> str:
    parts = [bytes(line).decode(errors="replace") for line in lines if isinstance(line, bytes | bytearray)]
    return " ".join(parts)[:300] or "(no text)"


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300] if text != type(exc).__name__ else text
