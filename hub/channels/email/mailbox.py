"""One IMAP folder, kept in step with the inbox: never missing, never duplicating a mail.

Position is the folder's UIDVALIDITY plus the UIDs already dealt with (``done``) and
the highest UID below which everything is done (``last_uid``); ``\\Seen`` plays no
part, so mail read in another client is imported all the same. After each chunk the
state is saved; a crash between ingest and save only means the chunk is fetched
again, and ingest's dedupe on Message-ID makes that harmless.

- New mail: ``UID SEARCH UID last_uid+1:*``, pushed by IDLE or polled.
- First sync and UIDVALIDITY changes: every mail in the window (``first_sync_days``)
  is considered; those whose Message-ID the channel already holds are skipped after
  a header-only fetch, so a resync costs little and duplicates nothing.
- Gap check (``gap_check_seconds``): server UIDs at or below ``last_uid`` that are not
  ``done`` are gaps; they are reported on the channel status and imported.
- Too large (``max_message_bytes``): only the headers are fetched, into the quarantine.
- After import: keep, mark ``\\Seen`` or move, as configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from hub.channels.base import ChannelStorage
from hub.channels.email.classify import KEY_HEADERS
from hub.channels.email.imap import Envelope, FolderInfo, ImapError, ImapSession, imap_date
from hub.channels.email.importer import MAX_TRIES, FetchedMail, MailImporter, Outcome, dedupe_key_of
from hub.channels.email.parse import ParsedMail, UnparseableMail
from hub.channels.email.settings import ImapSettings, since_date
from hub.channels.email.uidranges import UidRanges

log = logging.getLogger(__name__)
T = TypeVar("T")

BODY_BYTES_PER_FETCH = 8 << 20
BACKOFF_START = 1.0
BACKOFF_CAP = 300.0
FINISHED = (Outcome.IMPORTED, Outcome.DUPLICATE, Outcome.REPORTED, Outcome.SKIPPED)


PIPELINE_DEPTH = 2  # chunks fetched ahead of the one being imported


@dataclass
class FetchedChunk:
    """One chunk between the fetch and the import stage."""

    uids: list[int]
    decided: dict[int, Outcome]  # outcomes known before import (too large, known already)
    mails: list[FetchedMail]
    parsed: list[ParsedMail | UnparseableMail]


class RetryLater(Exception):
    """Some mail could not be imported this round; back off and sync again."""


@dataclass
class FolderState:
    """What the hub knows about one folder; stored as JSON under ``folder:<name>``."""

    uidvalidity: int | None = None
    last_uid: int = 0
    done: UidRanges = field(default_factory=UidRanges)
    failures: dict[int, int] = field(default_factory=dict)
    window_start: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    uidvalidity_changes: int = 0
    server_count: int | None = None
    gaps: int = 0
    last_sync_at: str | None = None
    last_gap_check_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FolderState:
        if not data:
            return cls()
        return cls(
            uidvalidity=data.get("uidvalidity"),
            last_uid=int(data.get("last_uid", 0)),
            done=UidRanges.parse(str(data.get("done", ""))),
            failures={int(k): int(v) for k, v in dict(data.get("failures", {})).items()},
            window_start=data.get("window_start"),
            counts={str(k): int(v) for k, v in dict(data.get("counts", {})).items()},
            uidvalidity_changes=int(data.get("uidvalidity_changes", 0)),
            server_count=data.get("server_count"),
            gaps=int(data.get("gaps", 0)),
            last_sync_at=data.get("last_sync_at"),
            last_gap_check_at=data.get("last_gap_check_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "uidvalidity": self.uidvalidity,
            "last_uid": self.last_uid,
            "done": str(self.done),
            "failures": {str(k): v for k, v in self.failures.items()},
            "window_start": self.window_start,
            "counts": self.counts,
            "uidvalidity_changes": self.uidvalidity_changes,
            "server_count": self.server_count,
            "gaps": self.gaps,
            "last_sync_at": self.last_sync_at,
            "last_gap_check_at": self.last_gap_check_at,
        }

    def count(self, outcome: Outcome, n: int = 1) -> None:
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + n

    def restart(self, uidvalidity: int) -> None:
        """A new UIDVALIDITY: every UID is new. Counters and the window stay."""
        self.uidvalidity = uidvalidity
        self.last_uid = 0
        self.done = UidRanges()
        self.failures = {}
        self.gaps = 0

    def advance(self, uids: Sequence[int]) -> None:
        """Move ``last_uid`` over the leading run of ``uids`` that are done."""
        for uid in sorted(uids):
            if uid <= self.last_uid:
                continue
            if uid not in self.done:
                break
            self.last_uid = uid


def state_key(folder: str) -> str:
    return f"folder:{folder}"


class Backoff:
    """Exponential backoff with jitter between reconnects."""

    def __init__(self, start: float = BACKOFF_START, cap: float = BACKOFF_CAP) -> None:
        self.start, self.cap, self.current = start, cap, start

    def next(self) -> float:
        delay = self.current * (0.5 + random.random() / 2)
        self.current = min(self.cap, self.current * 2)
        return delay

    def reset(self) -> None:
        self.current = self.start


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The result of ``work``, or None (``work`` cancelled) when ``stop`` is set first."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        result = await task
        if hasattr(result, "close"):
            await result.close()
    return None


class FolderWorker:
    """Keeps one folder of one mailbox imported, over its own IMAP connection."""

    def __init__(
        self,
        channel: str,
        folder: str,
        imap: ImapSettings,
        importer: MailImporter,
        storage: ChannelStorage,
        max_message_bytes: int,
        on_change: Callable[[FolderWorker], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.channel = channel
        self.folder = folder
        self.imap = imap
        self.importer = importer
        self.storage = storage
        self.max_message_bytes = max_message_bytes
        self.on_change = on_change
        self.clock = clock
        self.state = FolderState()
        self.connected = False
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.last_message_at: str | None = None
        self.mode: str | None = None  # idle | poll
        self._loaded = False
        self._moved_target_ready = False

    # --- running -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, sync and wait for mail until ``stop``; reconnect with backoff on errors."""
        backoff = Backoff()
        while not stop.is_set():
            session: ImapSession | None = None
            try:
                await self._load()
                session = await unless_stopped(ImapSession.open(self.imap), stop)
                if session is None:
                    return
                self.connected = True
                self._changed()
                await self._serve(session, stop)
                backoff.reset()
            except (ImapError, RetryLater) as exc:
                self._failed(str(exc))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database, a bug: never let one folder die silently
                log.exception("channel %s folder %s: sync failed", self.channel, self.folder)
                self._failed(f"{type(exc).__name__}: {exc}"[:300])
            finally:
                self.connected = False
                if session is not None:
                    await session.close()
            if not stop.is_set():
                delay = backoff.next()
                log.info("channel %s folder %s: reconnecting in %.1f s", self.channel, self.folder, delay)
                self._changed()
                await wait_or_stop(stop, delay)

    async def _load(self) -> None:
        if not self._loaded:
            self.state = FolderState.from_json(await self.storage.load_state(self.channel, state_key(self.folder)))
            self._loaded = True

    async def _serve(self, session: ImapSession, stop: asyncio.Event) -> None:
        if self.imap.after_import == "move" and not self._moved_target_ready:
            assert self.imap.move_to is not None
            await session.create(self.imap.move_to)
            self._moved_target_ready = True
        use_idle = self.imap.idle and session.supports_idle
        self.mode = "idle" if use_idle else "poll"
        loop = asyncio.get_running_loop()
        next_gap_check = loop.time()  # check once right after connecting
        while not stop.is_set():
            info = await session.select(self.folder)
            gap_check = loop.time() >= next_gap_check
            await self.sync(session, info, gap_check=gap_check)
            if gap_check:
                next_gap_check = loop.time() + self.imap.gap_check_seconds
            wait = max(0.0, min(next_gap_check - loop.time(), self.imap.idle_renew_seconds if use_idle else self.imap.poll_seconds))
            if use_idle:
                await session.idle(wait, stop)
            elif await wait_or_stop(stop, wait):
                return

    # --- syncing -----------------------------------------------------------------

    async def sync(self, session: ImapSession, info: FolderInfo, *, gap_check: bool = False) -> None:
        """Import what is new in the selected folder (and the gaps, when checking)."""
        state = self.state
        candidates: list[int]
        prefilter = False
        if state.uidvalidity != info.uidvalidity:
            candidates = await self._window(session, info)
            # Known mails are skipped by a header-only fetch, unless the channel holds none.
            prefilter = bool(candidates) and await self.storage.holds_messages(self.channel)
        else:
            candidates = [u for u in await session.search("UID", f"{state.last_uid + 1}:*") if u > state.last_uid]
        if gap_check:
            candidates = sorted(set(candidates) | set(await self._gaps(session)))
        candidates = [u for u in candidates if u not in state.done]
        if candidates:
            await self._process(session, candidates, prefilter=prefilter)
        state.last_sync_at = self.clock().isoformat()
        await self._save()

    async def _window(self, session: ImapSession, info: FolderInfo) -> list[int]:
        """UIDs to consider after the first connect or a UIDVALIDITY change."""
        state = self.state
        first = state.uidvalidity is None
        if not first:
            state.uidvalidity_changes += 1
            log.warning(
                "channel %s folder %s: UIDVALIDITY changed from %s to %s; resyncing",
                self.channel, self.folder, state.uidvalidity, info.uidvalidity,
            )
        state.restart(info.uidvalidity)
        everything = await session.search("ALL")
        if first and self.imap.first_sync_days == 0:
            # Only mail that arrives from now on.
            for uid in everything:
                state.done.add(uid)
            state.last_uid = max(everything, default=0)
            return []
        if first:
            start = since_date(self.imap.first_sync_days, self.clock().date())
            state.window_start = start.isoformat() if start else None
        window = self._window_start()
        wanted = everything if window is None else await session.search("SINCE", imap_date(window))
        wanted_set = set(wanted)
        for uid in everything:
            if uid not in wanted_set:
                state.done.add(uid)  # before the window: deliberately not imported
        state.advance(everything)
        return wanted

    def _window_start(self) -> date | None:
        return date.fromisoformat(self.state.window_start) if self.state.window_start else None

    async def _gaps(self, session: ImapSession) -> list[int]:
        state = self.state
        on_server = await session.search("ALL")
        gaps = [u for u in on_server if u <= state.last_uid and u not in state.done]
        state.server_count = len(on_server)
        state.gaps = len(gaps)
        state.last_gap_check_at = self.clock().isoformat()
        if gaps:
            log.warning("channel %s folder %s: %d mail(s) missed earlier; importing them", self.channel,
                        self.folder, len(gaps))
        if self.imap.after_import == "move":
            leftover = [u for u in on_server if u in state.done and u <= state.last_uid]
            if leftover:
                await self._after_import(session, leftover)
        return gaps

    async def _process(self, session: ImapSession, uids: list[int], *, prefilter: bool) -> None:
        """Fetch and import ``uids`` chunk by chunk, the next fetch overlapping this import.

        The fetch stage (envelopes, bodies, parsing in the worker processes) runs up to
        ``PIPELINE_DEPTH`` chunks ahead of the import stage (ingest, after-import
        action, saved state), which takes the chunks in order.
        """
        batch = self.imap.fetch_batch
        chunks = [uids[start : start + batch] for start in range(0, len(uids), batch)]
        ready: asyncio.Queue[FetchedChunk | None] = asyncio.Queue(maxsize=PIPELINE_DEPTH)

        async def fetch_all() -> None:
            for chunk in chunks:
                await ready.put(await self.fetch_chunk(session, chunk, prefilter=prefilter))
            await ready.put(None)

        fetcher = asyncio.create_task(fetch_all(), name=f"email:{self.channel}:{self.folder}:fetch")
        try:
            while True:
                getting = asyncio.ensure_future(ready.get())
                await asyncio.wait({getting, fetcher}, return_when=asyncio.FIRST_COMPLETED)
                if not getting.done():
                    getting.cancel()
                    fetcher.result()  # the fetch stage failed: raise its error
                    continue
                fetched = getting.result()
                if fetched is None:
                    break
                outcomes = await self.import_chunk(fetched)
                finished = [uid for uid, outcome in outcomes.items() if outcome in FINISHED]
                if finished:
                    await self._after_import(session, finished)
                self.state.advance(fetched.uids)
                await self._save()
                if any(outcome is Outcome.RETRY for outcome in outcomes.values()):
                    raise RetryLater("some mail could not be imported yet; trying again shortly")
        finally:
            fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetcher

    async def process_chunk(self, session: ImapSession, chunk: list[int], *, prefilter: bool) -> dict[int, Outcome]:
        """Fetch and import one chunk (no after-import action, no saved state: backfill)."""
        return await self.import_chunk(await self.fetch_chunk(session, chunk, prefilter=prefilter))

    async def fetch_chunk(self, session: ImapSession, chunk: list[int], *, prefilter: bool) -> FetchedChunk:
        """Envelopes, then bodies of the mails worth importing, parsed in the worker processes."""
        state = self.state
        envelopes = await session.envelopes(chunk)
        decided: dict[int, Outcome] = {}
        for uid in chunk:
            if uid not in envelopes:  # expunged meanwhile (deleted in another client)
                state.done.add(uid)
        wanted: list[Envelope] = []
        for uid in chunk:
            envelope = envelopes.get(uid)
            if envelope is None:
                continue
            if envelope.size > self.max_message_bytes:
                decided[uid] = await self._too_large(session, envelope)
            else:
                wanted.append(envelope)
        if prefilter and wanted:
            wanted = await self._skip_known(session, wanted, decided)
        mails: list[FetchedMail] = []
        for group in _by_size(wanted, BODY_BYTES_PER_FETCH):
            bodies = await session.bodies([e.uid for e in group])
            for envelope in group:
                if envelope.uid in bodies:
                    mails.append(FetchedMail(envelope.uid, bodies[envelope.uid], envelope.internaldate,
                                             self._source(envelope.uid)))
                else:
                    state.done.add(envelope.uid)  # expunged between the two fetches
        parsed = await self.importer.parse_many(mails)
        return FetchedChunk(chunk, decided, mails, parsed)

    async def import_chunk(self, fetched: FetchedChunk) -> dict[int, Outcome]:
        """Hand a fetched chunk to the inbox and record each mail's outcome."""
        state = self.state
        outcomes = dict(fetched.decided)
        results = await self.importer.deliver_many(fetched.mails, fetched.parsed)
        for mail in fetched.mails:
            outcome = results[mail.uid]
            if outcome is Outcome.RETRY:
                outcome = await self._retry_or_give_up(mail)
            outcomes[mail.uid] = outcome
        for uid, outcome in outcomes.items():
            if outcome is not Outcome.RETRY:
                state.done.add(uid)
                state.failures.pop(uid, None)
                state.count(outcome)
        if any(o is Outcome.IMPORTED for o in outcomes.values()):
            self.last_message_at = self.clock().isoformat()
        self._changed()
        return outcomes

    async def _retry_or_give_up(self, mail: FetchedMail) -> Outcome:
        tries = self.state.failures.get(mail.uid, 0) + 1
        self.state.failures[mail.uid] = tries
        if tries < MAX_TRIES:
            return Outcome.RETRY
        return await self.importer.quarantine(mail, "ingest_failed", f"could not be imported in {tries} tries")

    async def _too_large(self, session: ImapSession, envelope: Envelope) -> Outcome:
        headers = (await session.bodies([envelope.uid], "BODY.PEEK[HEADER]")).get(envelope.uid, b"")
        mail = FetchedMail(envelope.uid, headers, envelope.internaldate, self._source(envelope.uid))
        detail = f"the mail has {envelope.size} bytes, more than max_message_bytes ({self.max_message_bytes}); headers kept"
        return await self.importer.quarantine(mail, "too_large", detail, size=envelope.size)

    async def _skip_known(
        self, session: ImapSession, wanted: list[Envelope], outcomes: dict[int, Outcome]
    ) -> list[Envelope]:
        """Drop mails the channel already holds, known by their dedupe key (header-only fetch)."""
        fields = " ".join(name.upper() for name in KEY_HEADERS)
        headers = await session.bodies([e.uid for e in wanted], f"BODY.PEEK[HEADER.FIELDS ({fields})]")
        ids = {uid: dedupe_key_of(block) for uid, block in headers.items()}
        known = await self.storage.known_message_ids(self.channel, [i for i in ids.values() if i])
        remaining: list[Envelope] = []
        for envelope in wanted:
            message_id = ids.get(envelope.uid)
            if message_id is not None and message_id in known:
                outcomes[envelope.uid] = Outcome.DUPLICATE
            else:
                remaining.append(envelope)
        return remaining

    async def _after_import(self, session: ImapSession, uids: list[int]) -> None:
        if self.imap.after_import == "seen":
            await session.mark_seen(uids)
        elif self.imap.after_import == "move":
            assert self.imap.move_to is not None
            await session.move(uids, self.imap.move_to)

    def _source(self, uid: int) -> str:
        return f"{self.folder} uidvalidity {self.state.uidvalidity} uid {uid}"

    async def _save(self) -> None:
        await self.storage.save_state(self.channel, state_key(self.folder), self.state.to_json())

    def _failed(self, error: str) -> None:
        self.last_error, self.last_error_at = error, self.clock().isoformat()
        log.warning("channel %s folder %s: %s", self.channel, self.folder, error)
        self.on_change(self)

    def _changed(self) -> None:
        self.on_change(self)

    def status(self) -> dict[str, Any]:
        state = self.state
        return {
            "connected": self.connected,
            "mode": self.mode,
            "uidvalidity": state.uidvalidity,
            "last_uid": state.last_uid,
            "server_count": state.server_count,
            "gaps": state.gaps,
            "counts": dict(state.counts),
            "pending_retries": len(state.failures),
            "uidvalidity_changes": state.uidvalidity_changes,
            "last_sync_at": state.last_sync_at,
            "last_gap_check_at": state.last_gap_check_at,
            "last_message_at": self.last_message_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


def _by_size(envelopes: list[Envelope], budget: int) -> list[list[Envelope]]:
    """Groups of envelopes whose bodies together stay under ``budget`` bytes (one mail at least)."""
    groups: list[list[Envelope]] = []
    current: list[Envelope] = []
    total = 0
    for envelope in envelopes:
        if current and total + envelope.size > budget:
            groups.append(current)
            current, total = [], 0
        current.append(envelope)
        total += envelope.size
    if current:
        groups.append(current)
    return groups
