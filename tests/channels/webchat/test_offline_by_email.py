"""The offline follow-up with the real email channel: SMTP out (aiosmtpd), the answer back over IMAP (Dovecot).

A visitor leaves an email address and goes; the agent's reply leaves as a mail through the
email channel; the customer answers it in their mail program and the answer lands in the
same web chat conversation, where the visitor also finds it on their next visit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

from sqlalchemy import select, update

from hub.db.models import Message, WebchatVisitor
from tests.channels.email.conftest import (
    ADDRESS,
    CHANNEL,
    HubFactory,
    OtherClient,
    SmtpServer,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.channels.webchat.conftest import chat_channel
from tests.channels.webchat.visitor import Visitor, start_session
from tests.factories import create_user, services_of


async def test_a_reply_to_a_visitor_who_left_goes_by_mail_and_the_answer_comes_back_into_the_chat(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    client = await email_hub(extra=(chat_channel(offline_email_channel=CHANNEL),))
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    session = await start_session(client, prechat={"name": "Erika", "email": "erika@example.de"})
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Bitte antworten Sie mir per E-Mail.")
    await visitor.close()
    cid = ack["conversation_id"]
    async with services_of(client).sessions() as db, db.begin():
        await db.execute(update(WebchatVisitor).values(disconnected_at=datetime.now(UTC) - timedelta(minutes=5)))

    resp = await client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Ihr Paket kommt morgen."},
                             headers=agent.headers)
    assert resp.status == 201
    await eventually(lambda: _received(smtp), what="the reply mail")
    envelope = smtp.recorder.received[0]
    assert envelope.mail_from == ADDRESS and envelope.rcpt_tos == ["erika@example.de"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert "Ihr Paket kommt morgen." in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ours = mail["Message-ID"].strip("<>")

    answer = plain_mail(7, sender="erika@example.de", subject=f"AW: {mail['Subject']}", body="Danke, bis morgen!",
                        headers=f"In-Reply-To: <{ours}>\r\nReferences: <{ours}>\r\n")
    await other_client.append(answer)
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as db:
        rows = (await db.execute(select(Message.conversation_id, Message.text).where(Message.direction == "in"))).all()
    assert {conversation for conversation, _ in rows} == {cid}

    back = await Visitor.connect(client, session["token"])
    texts = [m["text"] for m in back.ready["messages"]]
    assert texts == ["Bitte antworten Sie mir per E-Mail.", "Ihr Paket kommt morgen.", "Danke, bis morgen!"]
    await back.close()


async def _received(server: SmtpServer) -> bool:
    return bool(server.recorder.received)
