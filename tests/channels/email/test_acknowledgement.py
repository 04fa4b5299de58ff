"""Automatic acknowledgements: once per new request, never to machines, never twice too fast."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hub.db.models import Contact, Conversation, Message
from tests.channels.email.conftest import (
    ADDRESS,
    HubFactory,
    OtherClient,
    SmtpServer,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.channels.email.test_smtp_replies import sent_mail
from tests.factories import services_of


async def automatic(client: Any) -> list[Message]:
    async with services_of(client).sessions() as session:
        return list((await session.scalars(select(Message).where(Message.auto_submitted == "auto_reply",
                                                                  Message.direction == "out"))).all())


async def test_a_new_request_is_acknowledged_once_in_german(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    await other_client.append(plain_mail(1, sender="erika@example.de"))
    client = await email_hub(auto_acknowledge="de")
    await wait_for_inbound(client, 1)

    async def sent() -> bool:
        return len(smtp.recorder.received) == 1

    await eventually(sent, what="the acknowledgement")
    mail = sent_mail(smtp)
    assert mail["Auto-Submitted"] == "auto-replied" and mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == "<m1@example.org>" and mail["Subject"].startswith("Re: Frage 1 [#")
    body = mail.get_body(("plain",))
    assert body is not None and "Guten Tag Kunde 1," in body.get_content() and "„Frage 1“" in body.get_content()
    async def recorded() -> bool:
        return [m.status for m in await automatic(client)] == ["sent"]

    await eventually(recorded, what="the acknowledgement recorded as sent")
    (ack,) = await automatic(client)
    assert ack.author_user_id is None
    async with services_of(client).sessions() as session:
        conversation = (await session.scalars(select(Conversation))).one()
    assert conversation.first_response_at is None  # no person has answered yet

    # The customer answers the acknowledgement: same conversation, no second acknowledgement.
    ours = mail["Message-ID"]
    await other_client.append(plain_mail(2, sender="erika@example.de", subject=f"AW: {mail['Subject']}",
                                         headers=f"In-Reply-To: {ours}\r\n"))
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as session:
        assert len(set((await session.scalars(select(Message.conversation_id))).all())) == 1
    assert len(await automatic(client)) == 1


async def test_machines_restricted_contacts_and_quick_repeats_get_no_acknowledgement(
    email_hub: HubFactory, other_client: OtherClient, smtp: SmtpServer
) -> None:
    ooo = b"Auto-Submitted: auto-replied\r\n"
    await other_client.append(plain_mail(1, sender="ooo@example.de", headers=ooo.decode()))
    await other_client.append(plain_mail(2, sender="news@example.de", headers="Precedence: bulk\r\n"))
    await other_client.append(plain_mail(3, sender="twice@example.de"))
    await other_client.append(plain_mail(4, sender="twice@example.de"))  # a new request, minutes later
    client = await email_hub(auto_acknowledge="en")
    await wait_for_inbound(client, 4)
    await eventually(lambda: _sent(smtp, 1), what="one acknowledgement")
    assert [e.rcpt_tos for e in smtp.recorder.received] == [["twice@example.de"]]
    assert "thank you for your message" in sent_mail(smtp).get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # A contact whose processing is restricted (Art. 18) gets nothing automatic.
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Contact).values(restricted_at=Contact.created_at))
    await other_client.append(plain_mail(5, sender="twice@example.de"))
    await wait_for_inbound(client, 5)
    assert len(await automatic(client)) == 1
    assert all(e.mail_from == ADDRESS for e in smtp.recorder.received)


async def _sent(smtp: SmtpServer, n: int) -> bool:
    return len(smtp.recorder.received) == n
