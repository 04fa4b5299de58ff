"""``hub demo``: a demo company seeded through the real actions.

Staff come from ``hub.auth.accounts.create_user``; customer messages go through the
API channel's parser and ``hub.inbox.ingest``; agents take, answer, annotate and
close conversations with ``hub.inbox.actions``; replies leave through the real
outbox dispatcher and API channel adapter, to a receiver the demo runs on loopback
for the length of the seeding (playing the customer's website). Everything happens
on a simulated clock over the last three days, in time order, so ids and times agree.

The data is deterministic (seeded random); the passwords are random and are kept in
``<data_dir>/demo-logins.json`` (mode 0600) so that a later run can print them again.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import exists, select, text

from hub.auth.accounts import create_user
from hub.auth.audit import record_audit
from hub.auth.principal import Principal, Role
from hub.bootstrap import build_services, sync_config
from hub.canned.store import CannedDraft, create_canned
from hub.config import ChannelConfig, Settings
from hub.db.migrate import upgrade_engine
from hub.db.models import AuditEntry, Base, Blob, Contact, Conversation, User, utcnow
from hub.demo_data import CANNED, CUSTOMERS, SCRIPTS, STAFF, Customer, Script, StaffMember
from hub.demo_site import DemoSite
from hub.errors import Conflict, HubError
from hub.inbox import actions
from hub.inbox.ingest import ingest_batch
from hub.messages import InboundMessage
from hub.progress import progress
from hub.services import Services

DEMO_STARTED = "demo.started"
DEMO_SEEDED = "demo.seeded"
LOGINS_FILE = "demo-logins.json"
DEFAULT_CONVERSATIONS = 40
SEED = 2024
HISTORY = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class Login:
    email: str
    name: str
    role: str
    password: str


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What ``run_demo`` did.

    ``created`` is False when the demo was already there (then ``logins`` are the saved
    ones, empty if that file is gone) or when the database holds other data (``note``).
    """

    created: bool
    logins: tuple[Login, ...]
    logins_file: Path
    conversations: int = 0
    customers: int = 0
    note: str | None = None


@dataclass(slots=True)
class _Planned:
    """One scripted conversation with its cast and clock."""

    index: int
    script: Script
    customer: Customer
    channel: ChannelConfig
    agent: Principal
    times: list[datetime]
    conversation_id: int | None = None
    words: dict[str, str] = field(default_factory=dict)


async def run_demo(
    settings: Settings,
    *,
    reset: bool = False,
    force: bool = False,
    conversations: int = DEFAULT_CONVERSATIONS,
    stream: TextIO | None = None,
) -> DemoResult:
    """Seed the demo company into an empty database; ``reset`` wipes every table first.

    A database with data the demo did not create is left alone (see ``note``); wiping
    it takes ``reset`` and ``force`` together, ``reset`` alone raises Conflict. So does
    an earlier run that did not finish, until ``reset``.
    """
    services = build_services(settings)
    logins_file = settings.data_dir / LOGINS_FILE
    try:
        await upgrade_engine(services.engine)
        await services.bus.start()
        await sync_config(services)
        state = await demo_state(services)
        if state == "seeded" and not reset:
            return DemoResult(created=False, logins=read_logins(logins_file), logins_file=logins_file)
        if not reset and state == "partial":
            raise Conflict("an earlier hub demo did not finish; run hub demo --reset")
        if state == "foreign" and not reset:
            note = "the database holds data hub demo did not create, so the demo was not seeded"
            return DemoResult(created=False, logins=(), logins_file=logins_file, note=note)
        if state == "foreign" and not force:
            raise Conflict("this database holds data hub demo did not create; add --force to wipe it anyway")
        if reset:
            await wipe(services)
            logins_file.unlink(missing_ok=True)
            await sync_config(services)
        logins, customers = await _seed(services, conversations, stream)
        write_logins(logins_file, logins)
        return DemoResult(True, logins, logins_file, conversations=conversations, customers=customers)
    finally:
        await services.bus.aclose()
        await services.engine.dispose()


async def demo_state(services: Services) -> str:
    """``empty``, ``seeded``, ``partial`` (a run that did not finish) or ``foreign``."""
    async with services.sessions() as session:
        markers = set(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.action.in_([DEMO_STARTED, DEMO_SEEDED])))
        )
        if DEMO_SEEDED in markers:
            return "seeded"
        if DEMO_STARTED in markers:
            return "partial"
        has_data = await session.scalar(
            select(exists(select(User.id)) | exists(select(Contact.id)) | exists(select(Conversation.id)))
        )
    return "foreign" if has_data else "empty"


async def wipe(services: Services) -> None:
    """Delete every row of every table (the schema stays) and the blobs they referenced."""
    async with services.sessions() as session:
        blobs = list(await session.scalars(select(Blob.sha256)))
    tables = Base.metadata.sorted_tables
    async with services.transaction() as unit:
        if services.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await unit.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                await unit.session.execute(table.delete())
    for digest in blobs:
        await services.blobs.delete(digest)


def read_logins(path: Path) -> tuple[Login, ...]:
    """The logins an earlier run saved, or none when the file is missing or unreadable."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return tuple(Login(r["email"], r["name"], r["role"], r["password"]) for r in rows)
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def write_logins(path: Path, logins: tuple[Login, ...]) -> None:
    """Save the logins readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([{"email": x.email, "name": x.name, "role": x.role, "password": x.password} for x in logins], fh, indent=2)


async def _seed(services: Services, count: int, stream: TextIO | None) -> tuple[tuple[Login, ...], int]:
    async with services.transaction() as unit:
        await record_audit(unit.session, actor_id=None, action=DEMO_STARTED, object_type="demo", object_id=None)
    logins, principals = await _create_staff(services)
    await _create_canned(services, principals)
    plans = _plan(services, principals, count, utcnow())
    steps = sorted(
        ((plan.times[i], plan.index, i) for plan in plans for i in range(len(plan.script.steps))),
    )
    async with DemoSite(services) as site:
        with progress("demo", len(plans), unit="conversations", stream=stream) as bar:
            for at, index, step_index in steps:
                plan = plans[index]
                await _act(services, site, plan, step_index, at)
                if step_index == len(plan.script.steps) - 1:
                    bar.advance()
    async with services.transaction() as unit:
        await record_audit(
            unit.session, actor_id=None, action=DEMO_SEEDED, object_type="demo", object_id=None,
            data={"conversations": count, "seed": SEED},
        )
    return logins, len({plan.customer.name for plan in plans})


async def _create_staff(services: Services) -> tuple[tuple[Login, ...], dict[str, Principal]]:
    logins: list[Login] = []
    principals: dict[str, Principal] = {}
    for member in STAFF:
        password = secrets.token_urlsafe(12)
        queues = [q for q in member.queues if q in services.queues]
        user_id = await create_user(
            services, email=member.email, name=member.name, role=member.role, password=password,
            queues=queues, skills=dict(member.skills), actor_id=None, locale=member.locale,
        )
        logins.append(Login(member.email, member.name, member.role, password))
        principals[member.email] = Principal(
            user_id=user_id, email=member.email, name=member.name, role=Role(member.role),
            queue_ids=frozenset(services.queues[q] for q in queues), via="cli",
        )
    return tuple(logins), principals


async def _create_canned(services: Services, principals: dict[str, Principal]) -> None:
    admin = next(p for p in principals.values() if p.role is Role.ADMIN)
    for shortcut, title, german, english in CANNED:
        draft = CannedDraft(shortcut=shortcut, title=title, format="text", bodies={"de": german, "en": english}, queue=None)
        await create_canned(services, admin, draft)


def _plan(services: Services, principals: dict[str, Principal], count: int, now: datetime) -> list[_Planned]:
    api_channels = [c for c in services.settings.channels if c.type == "api"]
    if not api_channels:
        raise HubError("hub demo needs at least one channel of type 'api' in the configuration")
    rng = random.Random(SEED)
    # Every customer appears before anyone appears twice.
    line_up = {lang: rng.sample(_speaking(lang), len(_speaking(lang))) for lang in ("de", "en")}
    plans: list[_Planned] = []
    for index in range(count):
        script = SCRIPTS[index % len(SCRIPTS)]
        waiting = line_up[script.language]
        customer = waiting.pop(0)
        waiting.append(customer)
        channel = next((c for c in api_channels if c.queue == script.queue), api_channels[0])
        agent = _pick_agent(rng, principals, services.queues.get(channel.queue or ""), script.language)
        start = now - HISTORY + timedelta(seconds=rng.randint(0, int((HISTORY - timedelta(hours=6)).total_seconds())))
        times = [start]
        for _ in script.steps[1:]:
            times.append(times[-1] + timedelta(seconds=rng.randint(120, 40 * 60)))
        number = rng.randint(10000, 99999)
        words = {"first": customer.name.split()[0], "agent": agent.name.split()[0], "n": str(number)}
        plans.append(_Planned(index, script, customer, channel, agent, times, words=words))
    return plans


def _speaking(language: str) -> list[Customer]:
    return [c for c in CUSTOMERS if c.language == language]


def _pick_agent(rng: random.Random, principals: dict[str, Principal], queue_id: int | None, language: str) -> Principal:
    by_email = {m.email: m for m in STAFF}

    def speaks(member: StaffMember) -> bool:
        return any(skill == language for skill, _level in member.skills)

    agents = [p for p in principals.values() if p.role is Role.AGENT and (queue_id is None or queue_id in p.queue_ids)]
    fluent = [p for p in agents if speaks(by_email[p.email])]
    pool = fluent or agents or [p for p in principals.values() if p.sees_everything and p.role is Role.SUPERVISOR]
    return rng.choice(pool)


async def _act(services: Services, site: DemoSite, plan: _Planned, step_index: int, at: datetime) -> None:
    step = plan.script.steps[step_index]
    words = plan.words
    if step.kind == "customer":
        message = site.customer_message(plan.channel, _body(plan, step_index, step.text.format(**words), step.attachment))
        plan.conversation_id = await _ingest(services, message, at)
        return
    assert plan.conversation_id is not None, "a script starts with the customer"
    agent, conversation_id = plan.agent, plan.conversation_id
    if step.kind == "take":
        await actions.assign(services, agent, conversation_id, agent.user_id, now=at)
    elif step.kind in ("reply", "note"):
        private = step.kind == "note"
        await actions.reply(
            services, agent, conversation_id, step.text.format(**words), private=private, adapters=site.adapters, now=at
        )
        if not private:
            await site.deliver(at + timedelta(seconds=3))
    elif step.kind == "status":
        until = None
        if step.text == "snoozed":  # until tomorrow, 07:00 UTC
            until = (utcnow() + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
        await actions.set_status(services, agent, conversation_id, step.text, until, now=at)
    else:
        raise ValueError(f"unknown demo step {step.kind!r}")


def _body(plan: _Planned, step_index: int, text_: str, attachment: tuple[str, str, bytes] | None) -> dict[str, object]:
    customer = plan.customer
    sender: dict[str, str] = {"name": customer.name}
    if customer.email:
        sender["email"] = customer.email
    if customer.phone:
        sender["phone"] = customer.phone
    body: dict[str, object] = {
        "id": f"demo-{plan.index}-{step_index}",
        "sender": sender,
        "text": text_,
        "thread": f"demo-{plan.index}",
    }
    if step_index == 0:
        body["subject"] = plan.script.subject.format(**plan.words)
    if attachment is not None:
        filename, content_type, content = attachment
        body["attachments"] = [
            {"filename": filename, "content_type": content_type, "content_base64": base64.b64encode(content).decode()}
        ]
    return body


async def _ingest(services: Services, message: InboundMessage, at: datetime) -> int:
    """``Inbox.ingest`` with the demo's clock instead of the wall clock."""
    async with services.transaction() as unit:
        results, events = await ingest_batch(unit.session, [message], services.endpoints, services.blobs, at)
        for event in events:
            unit.emit(event)
    return results[0].conversation_id

