"""MIME parsing off the event loop, in worker processes, with a time limit per mail.

Parsing is pure CPU work (a 20 MB mail takes a good part of a second): in-loop it
would stall every other mailbox and every HTTP request of this hub process. Worker
processes also use the machine's other cores, and a mail that makes the parser spin
is cut off after ``timeout`` seconds (the pool is replaced, the mail quarantined).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from hub.channels.email.parse import ParsedMail, UnparseableMail, parse_mail

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


def _parse(raw: bytes, max_attachment_bytes: int, use_reply_to: bool) -> ParsedMail | UnparseableMail:
    try:
        return parse_mail(raw, max_attachment_bytes=max_attachment_bytes, use_reply_to=use_reply_to)
    except UnparseableMail as exc:
        return exc
    except Exception as exc:  # a parser bug must quarantine the mail, not kill the worker
        return UnparseableMail("parser_error", f"{type(exc).__name__} while parsing")


class ParsePool:
    """A process pool shared by every email channel of the hub process.

    Started on first use and kept for the life of the process (the stdlib joins its
    workers at exit), so restarting a channel costs no new worker processes.
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None

    def shutdown(self) -> None:
        """Stop the workers (they start again on the next parse)."""
        self._shutdown()

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: a fork of a multi-threaded process (asyncio, database drivers) can deadlock.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("forkserver")
            )
        return self._executor

    def _shutdown(self, *, kill: bool = False) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if kill:
            # The stdlib cannot stop a running task; end the stuck worker processes.
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        # Parses in flight on a killed pool fail with BrokenProcessPool and are retried.
        executor.shutdown(wait=False)

    async def parse(self, raw: bytes, *, max_attachment_bytes: int, use_reply_to: bool) -> ParsedMail:
        """Parse ``raw``; raises ``UnparseableMail`` (also when the time limit is hit)."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            future = loop.run_in_executor(self._pool(), _parse, raw, max_attachment_bytes, use_reply_to)
            try:
                result = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                log.warning("parsing a mail of %d bytes took longer than %.0f s; worker replaced", len(raw), self.timeout)
                self._shutdown(kill=True)
                raise UnparseableMail("parse_timeout", f"parsing took longer than {self.timeout:.0f} s") from None
            except BrokenProcessPool:
                self._shutdown(kill=True)
                if attempt == 2:
                    raise UnparseableMail("parser_crash", "the parser process died on this mail") from None
                continue
            if isinstance(result, UnparseableMail):
                raise result
            return result
        raise AssertionError("unreachable")


shared_pool = ParsePool()
