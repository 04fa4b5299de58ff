"""Replies leave through a real SMTP server (aiosmtpd) with correct threading, and come back."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update

from hub.api.keys import DISPATCHER
from hub.db.models import Contact, Conversation, Message, OutboxItem, utcnow
from tests.channels.email.conftest import (
    ADDRESS,
    CHANNEL,
    FIXTURES_DIR,
    HubFactory,
    OtherClient,
    SmtpServer,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.factories import TestUser, create_user, services_of


async def start_conversation(email_hub: HubFactory, other_client: OtherClient, **options: Any) -> tuple[Any, TestUser, int]:
    await other_client.append(plain_mail(1, sender="erika@example.de"))
    client = await email_hub(**options)
    await wait_for_inbound(client, 1)
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    async with services_of(client).sessions() as session:
        conversation_id = int(await session.scalar(select(Conversation.id)) or 0)
    return client, agent, conversation_id


async def reply(client: Any, agent: TestUser, conversation_id: int, body: str = "Guten Tag, Ihr Paket kommt morgen.") -> int:
    resp = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": body, "private": False}, headers=agent.headers
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def message_row(client: Any, message_id: int) -> Message:
    async with services_of(client).sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def status_is(client: Any, message_id: int, *statuses: str) -> bool:
    return (await message_row(client, message_id)).status in statuses


def sent_mail(smtp: SmtpServer, index: int = -1) -> EmailMessage:
    envelope = smtp.recorder.received[index]
    parsed = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_a_reply_arrives_with_threading_headers_and_the_answer_threads_back(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "sent"), what="the reply to be sent")
    envelope = smtp.recorder.received[0]
    assert envelope.mail_from == ADDRESS and envelope.rcpt_tos == ["erika@example.de"]
    mail = sent_mail(smtp)
    assert mail["In-Reply-To"] == "<m1@example.org>"
    assert mail["References"] == "<m1@example.org>"
    assert mail["Subject"].startswith("Re: Frage 1 [#")
    ours = mail["Message-ID"].strip("<>")
    assert (await message_row(client, message_id)).provider_message_id == ours

    # The customer answers in their mail program: In-Reply-To names our Message-ID.
    answer = plain_mail(2, sender="erika@example.de", subject=f"AW: {mail['Subject']}",
                        headers=f"In-Reply-To: <{ours}>\r\nReferences: <m1@example.org> <{ours}>\r\n")
    await other_client.append(answer)
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as session:
        conversations = set((await session.scalars(select(Message.conversation_id))).all())
    assert conversations == {conversation_id}


async def test_a_subject_token_threads_a_new_mail_and_a_forged_one_does_not(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "sent"), what="the reply to be sent")
    token = sent_mail(smtp)["Subject"].rsplit(" ", 1)[1]
    # A new mail (no References) that keeps our token in its subject joins the conversation...
    await other_client.append(plain_mail(3, sender="kollege@example.de", subject=f"Nachtrag {token}"))
    # ...one with a guessed token opens its own.
    forged = f"[#{conversation_id}-{'0' * 8}]"
    assert forged != token
    await other_client.append(plain_mail(4, sender="angreifer@example.net", subject=f"Hallo {forged}"))
    await wait_for_inbound(client, 3)
    async with services_of(client).sessions() as session:
        rows = {key.split("#")[0]: conversation for key, conversation in (await session.execute(
            select(Message.provider_message_id, Message.conversation_id).where(Message.direction == "in"))).all()}
    assert rows["m3@example.org"] == conversation_id
    assert rows["m4@example.org"] != conversation_id


async def test_a_4xx_answer_is_retried_through_the_outbox(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    smtp.recorder.answers.append("451 4.7.1 Greylisted, please try again later")
    message_id = await reply(client, agent, conversation_id)
    services = services_of(client)

    async def failed_once() -> bool:
        async with services.sessions() as session:
            outbox = (await session.scalars(select(OutboxItem))).one()
        return outbox.attempts == 1

    await eventually(failed_once, what="the first attempt")
    async with services.sessions() as session:
        outbox = (await session.scalars(select(OutboxItem))).one()
    assert outbox.state == "pending" and outbox.last_error is not None and "451 4.7.1" in outbox.last_error
    assert (await message_row(client, message_id)).status == "queued"
    assert smtp.recorder.received == []
    # The retry falls due (the backoff is minutes; the test does not wait for it).
    async with services.sessions() as session, session.begin():
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    client.app[DISPATCHER].wake()
    await eventually(lambda: status_is(client, message_id, "sent"), what="the retry to succeed")
    assert len(smtp.recorder.received) == 1


async def test_a_5xx_answer_marks_the_reply_failed_with_the_servers_words(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    smtp.recorder.answers.append("550 5.7.1 Message rejected as spam")
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "failed"), what="the reply to fail")
    message = await message_row(client, message_id)
    assert message.error is not None and "550 5.7.1 Message rejected as spam" in message.error
    async with services_of(client).sessions() as session:
        assert (await session.scalars(select(OutboxItem.state))).one() == "dead"


async def test_a_bounce_marks_the_reply_it_returns_failed(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "sent"), what="the reply to be sent")
    ours = sent_mail(smtp)["Message-ID"].strip("<>")
    bounce = (FIXTURES_DIR / "bounce_dsn_for_our_reply.eml").read_bytes().replace(b"{MESSAGE_ID}", ours.encode())
    await other_client.append(bounce)
    await eventually(lambda: status_is(client, message_id, "failed"), what="the bounce to mark the reply failed")
    message = await message_row(client, message_id)
    assert message.error is not None and "550 5.1.1" in message.error
    async with services_of(client).sessions() as session:
        inbound = (await session.scalars(select(Message).where(Message.direction == "in"))).all()
    assert len(inbound) == 1  # the bounce itself is no customer message


async def test_an_out_of_office_answer_does_not_reopen_a_resolved_conversation(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "sent"), what="the reply to be sent")
    resp = await client.put(f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved"},
                            headers=agent.headers)
    assert resp.status == 200, await resp.text()
    ours = sent_mail(smtp)["Message-ID"]
    ooo = (
        f"From: erika@example.de\r\nTo: {ADDRESS}\r\nSubject: Abwesenheitsnotiz\r\nMessage-ID: <ooo-9@example.de>\r\n"
        f"In-Reply-To: {ours}\r\nAuto-Submitted: auto-replied\r\n\r\nIch bin im Urlaub.\r\n"
    ).encode()
    await other_client.append(ooo)
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        auto = await session.scalar(select(Message.auto_submitted).where(Message.provider_message_id.startswith("ooo-9@example.de#")))
    assert conversation is not None and conversation.status == "resolved"
    assert auto == "auto_reply"


async def test_a_line_break_in_the_recipients_name_fails_the_reply_instead_of_injecting_headers(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client)
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Contact).values(name="Erika\r\nBcc: victim@example.net"))
    message_id = await reply(client, agent, conversation_id)
    await eventually(lambda: status_is(client, message_id, "failed"), what="the reply to be refused")
    message = await message_row(client, message_id)
    assert message.error is not None and "line break" in message.error
    assert smtp.recorder.received == []


async def test_an_email_channel_without_smtp_cannot_reply(email_hub: HubFactory, other_client: OtherClient) -> None:
    client, agent, conversation_id = await start_conversation(email_hub, other_client, smtp_host=None)
    resp = await client.post(f"/api/v1/conversations/{conversation_id}/messages",
                             json={"body": "Hallo", "private": False}, headers=agent.headers)
    assert resp.status == 409
    assert CHANNEL in (await resp.json())["detail"]
