"""The benchmark's message mix: deterministic, so the load generator and the checker agree.

Each item is one API-channel request body. The mix looks like a busy web form:

- most messages come from a new sender (email, phone in several spellings, an app's
  user id, sometimes email and phone together), so each opens a contact and a
  conversation;
- about a quarter come from a sender seen before, continuing their conversation
  (some name a thread, so a sender can hold several conversations);
- a few are replays of an earlier message (a provider's retry), byte for byte;
- a few carry HTML (sanitized on ingest) or a subject.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec

REPLAY_SHARE = 0.02
REPEAT_SENDER_SHARE = 0.25
HTML_SHARE = 0.05
SUBJECT_SHARE = 0.10

_WORDS = ["hallo", "guten", "tag", "meine", "rechnung", "bestellung", "lieferung", "ist", "noch", "nicht", "angekommen", "bitte", "prüfen", "sie", "das", "konto", "passwort", "zurücksetzen", "danke", "für", "ihre", "hilfe", "wann", "kommt", "paket", "hello", "my", "order", "invoice", "is", "wrong", "please", "refund", "the", "shipping", "address", "changed", "can", "you", "help", "me", "with", "login", "account", "subscription", "cancel", "upgrade", "plan", "thanks", "regards"]
_NAMES = ("Erika Mustermann", "Max Müller", "Jane Doe", "Li Wei", "Ana García", "Ole Hansen", None)


@dataclass(frozen=True, slots=True)
class Item:
    """One request: the provider message id and the JSON body."""

    message_id: str
    body: bytes


@dataclass(slots=True)
class _Sender:
    identity: dict[str, str]
    name: str | None
    threads: list[str]


def _sender(rng: random.Random, n: int) -> _Sender:
    roll = rng.random()
    identity: dict[str, str]
    if roll < 0.50:
        identity = {"email": f"Kunde.{n}@Example{n % 97}.DE"}
    elif roll < 0.65:
        identity = {"phone": f"+49 151 {10_000_000 + n}"}
    elif roll < 0.72:
        identity = {"phone": f"0049 (160) {20_000_000 + n}"}
    elif roll < 0.80:
        identity = {"phone": f"+1 (415) 555-{n % 10_000:04d}", "email": f"us.{n}@example.com"}
    else:
        identity = {"external_id": f"user-{n}"}
    return _Sender(identity=identity, name=rng.choice(_NAMES), threads=[])


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 60))).capitalize() + "."


def build(total: int, *, seed: int = 1, prefix: str = "m") -> list[Item]:
    """``total`` request bodies in send order; replays repeat an earlier item's bytes."""
    rng = random.Random(seed)
    senders: list[_Sender] = []
    items: list[Item] = []
    for i in range(total):
        roll = rng.random()
        if items and roll < REPLAY_SHARE:
            items.append(items[rng.randrange(len(items))])
            continue
        if senders and roll < REPLAY_SHARE + REPEAT_SENDER_SHARE:
            # recent senders write again more often than old ones
            sender = senders[-1 - min(int(rng.expovariate(1 / 200)), len(senders) - 1)]
        else:
            sender = _sender(rng, len(senders))
            senders.append(sender)
        body: dict[str, object] = {
            "id": f"{prefix}-{i}",
            "sender": {**sender.identity, **({"name": sender.name} if sender.name else {})},
            "text": _text(rng),
        }
        if rng.random() < 0.15:
            if sender.threads and rng.random() < 0.5:
                body["thread"] = rng.choice(sender.threads)
            else:
                thread = f"{prefix}-t{i}"
                sender.threads.append(thread)
                body["thread"] = thread
        if rng.random() < HTML_SHARE:
            body["html"] = f'<p onclick="x()">{body["text"]}</p><script>alert(1)</script><b>!</b>'
        if rng.random() < SUBJECT_SHARE:
            body["subject"] = _text(rng)[:80]
        items.append(Item(message_id=str(body["id"]), body=msgspec.json.encode(body)))
    return items


def unique_ids(items: list[Item]) -> set[str]:
    """The distinct provider message ids among ``items``."""
    return {item.message_id for item in items}
