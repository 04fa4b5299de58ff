"""``hub demo``: seeds a working demo company once, and again from scratch with --reset."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.auth.accounts import create_user
from hub.auth.audit import record_audit
from hub.auth.passwords import verify_password
from hub.bootstrap import build_services
from hub.cli import main
from hub.cli.demo import report
from hub.config import Settings
from hub.db.engine import create_engine
from hub.db.models import (
    Blob,
    ContactIdentity,
    Conversation,
    Message,
    OutboxItem,
    Queue,
    User,
)
from hub.demo import DEMO_STARTED, run_demo
from hub.demo_data import STAFF
from hub.errors import Conflict
from tests.conftest import make_settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "hub.toml"
FICTIONAL_PHONES = ("+493023125", "+494066969", "+498999998", "+4420794600")
EXAMPLE_DOMAINS = ("@example.com", "@example.org", "@example.net")


@pytest.fixture
def data_dir(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment ``make run`` gives the CLI, pointed at the test database."""
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "demo-test-secret")
    for name in ("WEBFORM_TOKEN", "SHOP_TOKEN", "PORTAL_TOKEN"):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    for name in ("HUB_REDIS_URL", "HUB_CONFIG", "HUB_PUBLIC_URL", "HUB_HOST", "HUB_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


async def hub(*argv: str) -> int:
    """Run the CLI as a user would (its own event loop, so in a thread)."""
    return await asyncio.to_thread(main, list(argv))


def printed_logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+\w+\s+(\S+@\S+)\s+password (\S+)", output, flags=re.MULTILINE))


async def test_demo_seeds_a_working_company_and_a_second_run_changes_nothing(
    data_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hub("--config", str(REPO_CONFIG), "demo") == 0
    first = capsys.readouterr()
    assert "log in at http://127.0.0.1:8080 as:" in first.out
    logins = printed_logins(first.out)
    assert set(logins) == {member.email for member in STAFF}
    assert "demo: 40/40 conversations" in first.err  # plain progress lines: stderr is no terminal
    assert "$WEBFORM_TOKEN" in first.out and "test-webform_token" not in first.out

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            users = (await conn.execute(select(User.email, User.role, User.password_hash))).all()
            assert Counter(role for _, role, _ in users) == {"agent": 4, "supervisor": 1, "admin": 1}
            for email, _role, password_hash in users:
                assert password_hash is not None and verify_password(password_hash, logins[email]), email

            conversations = (
                await conn.execute(
                    select(Conversation.status, Conversation.assignee_id, Queue.name).join(
                        Queue, Queue.id == Conversation.queue_id
                    )
                )
            ).all()
            assert len(conversations) == 40
            assert {"open", "pending", "resolved"} <= {status for status, _, _ in conversations}
            assert {queue for _, _, queue in conversations} == {"support", "billing", "sales"}
            assigned = [assignee for _, assignee, _ in conversations if assignee is not None]
            assert 0 < len(assigned) < 40

            replies = (
                await conn.execute(
                    select(Message.status, Message.provider_message_id).where(
                        Message.direction == "out", Message.private.is_(False)
                    )
                )
            ).all()
            assert replies and all(status == "sent" and provider_id for status, provider_id in replies)
            assert await conn.scalar(select(func.count()).where(OutboxItem.state != "done")) == 0

            identities = (await conn.execute(select(ContactIdentity.kind, ContactIdentity.address))).all()
            for kind, address in identities:
                fictional = address.startswith(FICTIONAL_PHONES) if kind == "phone" else address.endswith(EXAMPLE_DOMAINS)
                assert fictional, address
            message_count = await conn.scalar(select(func.count()).select_from(Message))
    finally:
        await engine.dispose()

    assert await hub("--config", str(REPO_CONFIG), "demo") == 0
    second = capsys.readouterr()
    assert "already there" in second.out
    assert printed_logins(second.out) == logins
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Conversation)) == 40
            assert await conn.scalar(select(func.count()).select_from(User)) == len(STAFF)
            assert await conn.scalar(select(func.count()).select_from(Message)) == message_count
    finally:
        await engine.dispose()


async def snapshot(settings: Settings) -> tuple[list[tuple[str | None, str]], int, set[str]]:
    """Message subjects and texts in order, the user count, and the blobs in the database."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            texts = [(s, t) for s, t in await conn.execute(select(Message.subject, Message.text).order_by(Message.id))]
            users = int(await conn.scalar(select(func.count()).select_from(User)) or 0)
            blobs = set(await conn.scalars(select(Blob.sha256)))
    finally:
        await engine.dispose()
    return texts, users, blobs


async def add_user(settings: Settings, email: str) -> None:
    services = build_services(settings)
    try:
        await create_user(
            services, email=email, name="Not Demo", role="agent", password=None, queues=[], skills={}, actor_id=None
        )
    finally:
        await services.engine.dispose()


async def test_reset_wipes_every_row_and_seeds_the_same_company_again(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    first = await run_demo(settings, conversations=12, stream=io.StringIO())
    assert first.created
    before, users, blobs = await snapshot(settings)
    assert users == len(STAFF) and blobs  # one script carries an attachment

    await add_user(settings, "someone.else@example.com")
    again = await run_demo(settings, conversations=12, stream=io.StringIO())
    assert not again.created and again.logins == first.logins

    reset = await run_demo(settings, reset=True, conversations=12, stream=io.StringIO())
    assert reset.created
    after, users, blobs_after = await snapshot(settings)
    assert after == before  # deterministic: the same conversations, word for word
    assert users == len(STAFF)  # the extra user is gone
    assert {x.password for x in reset.logins}.isdisjoint({x.password for x in first.logins})
    stored = {p.name for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()}
    assert stored == blobs_after


async def test_demo_leaves_a_database_it_did_not_create_alone_unless_forced(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    await add_user(settings, "real.agent@example.com")
    skipped = await run_demo(settings, conversations=4, stream=io.StringIO())
    assert not skipped.created and skipped.note and "did not create" in skipped.note
    out = io.StringIO()
    report(skipped, settings, out)  # what `make run` shows before it serves the database as it is
    assert out.getvalue() == f"{skipped.note} (hub demo --reset --force wipes it first)\n"
    with pytest.raises(Conflict, match="--force"):
        await run_demo(settings, reset=True, conversations=4, stream=io.StringIO())
    _texts, users, _blobs = await snapshot(settings)
    assert users == 1

    forced = await run_demo(settings, reset=True, force=True, conversations=4, stream=io.StringIO())
    assert forced.created
    _texts, users, _blobs = await snapshot(settings)
    assert users == len(STAFF)


async def test_an_unfinished_demo_is_reported_and_reset_repairs_it(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    services = build_services(settings)
    try:
        async with services.transaction() as unit:
            await record_audit(unit.session, actor_id=None, action=DEMO_STARTED, object_type="demo", object_id=None)
    finally:
        await services.engine.dispose()
    with pytest.raises(Conflict, match="did not finish"):
        await run_demo(settings, conversations=4, stream=io.StringIO())
    result = await run_demo(settings, reset=True, conversations=4, stream=io.StringIO())
    assert result.created and len(result.logins) == len(STAFF)
