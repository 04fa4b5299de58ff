"""Merge and unmerge: nothing is lost, and undoing a merge restores both records exactly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.crm_link.annotations import add_note, set_tags
from hub.crm_link.consent import record_consent
from hub.crm_link.contacts import update_contact
from hub.crm_link.erasure import erase_contact
from hub.crm_link.merge import merge_contacts, merge_group, unmerge
from hub.crm_link.restriction import restrict_processing
from hub.db.models import (
    AuditEntry,
    ConsentRecord,
    Contact,
    ContactIdentity,
    ContactNote,
    ContactTag,
    Conversation,
    EventRecord,
    Message,
    TimelineEntry,
)
from hub.errors import Conflict, NotFound, ValidationFailed
from tests.crm_link.test_restriction import admin_of
from tests.inbox.outbound_env import Env

MERGE_KINDS = ("merged", "merged_away", "unmerged")


async def snapshot(env: Env, contact_id: int) -> dict[str, Any]:
    """Everything that belongs to one contact, as comparable values."""
    async with env.services.sessions() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None

        async def ids(model: Any, column: Any, *where: Any) -> list[Any]:
            return sorted((await session.scalars(select(column).where(*where))).all())

        return {
            "fields": (contact.name, contact.company_id, contact.lifecycle_stage, contact.owner_id,
                       dict(contact.attributes), contact.merged_into_id),
            "identities": await ids(ContactIdentity, ContactIdentity.address, ContactIdentity.contact_id == contact_id),
            "conversations": await ids(Conversation, Conversation.id, Conversation.contact_id == contact_id),
            "timeline": await ids(
                TimelineEntry, TimelineEntry.id, TimelineEntry.contact_id == contact_id,
                TimelineEntry.kind.not_in(MERGE_KINDS),
            ),
            "consents": await ids(ConsentRecord, ConsentRecord.id, ConsentRecord.contact_id == contact_id),
            "notes": await ids(ContactNote, ContactNote.id, ContactNote.contact_id == contact_id),
            "tags": await ids(ContactTag, ContactTag.tag_id, ContactTag.contact_id == contact_id),
        }


async def two_people(env: Env) -> tuple[int, int]:
    """Anna (email, a name, a tag, attributes) and Anna again (another email, a company-less
    record with a consent, a note, another tag and an attribute Anna lacks)."""
    a = await env.customer_writes(id="a-1", email="anna@example.de")
    b = await env.customer_writes(id="b-1", email="a.schmidt@firma.de")
    b2 = await env.customer_writes(id="b-2", email="a.schmidt@firma.de", channel="shop")
    assert b.contact_id == b2.contact_id
    who = env.supervisor
    await update_contact(env.services, a.contact_id, actor=who, name=None, attributes={"tier": "gold"})
    await update_contact(
        env.services, b.contact_id, actor=who, name="Anna Schmidt", attributes={"tier": "silver", "kdnr": 17},
        lifecycle_stage="customer",
    )
    await set_tags(env.services, who, a.contact_id, ["vip", "newsletter"])
    await set_tags(env.services, who, b.contact_id, ["vip", "reklamation"])
    await add_note(env.services, who, b.contact_id, "Ruft oft an")
    async with env.services.transaction() as unit:
        await record_consent(unit, b.contact_id, "marketing", "email", True, "web_form")
    return a.contact_id, b.contact_id


async def test_merge_then_unmerge_restores_both_records_exactly(hub_env: Env) -> None:
    anna, other = await two_people(hub_env)
    before = (await snapshot(hub_env, anna), await snapshot(hub_env, other))

    merge = await merge_contacts(hub_env.services, hub_env.supervisor, anna, other)
    merged = await snapshot(hub_env, anna)
    assert merged["identities"] == sorted(before[0]["identities"] + before[1]["identities"])
    assert merged["conversations"] == sorted(before[0]["conversations"] + before[1]["conversations"])
    assert set(merged["timeline"]) >= set(before[0]["timeline"]) | set(before[1]["timeline"])
    assert merged["consents"] == before[1]["consents"] and merged["notes"] == before[1]["notes"]
    assert len(merged["tags"]) == 3
    name, _company, stage, _owner, attributes, _into = merged["fields"]
    assert (name, stage, attributes) == ("Anna Schmidt", "customer", {"tier": "gold", "kdnr": 17})
    hidden = await snapshot(hub_env, other)
    assert hidden["fields"][-1] == anna and hidden["identities"] == [] and hidden["conversations"] == []
    async with hub_env.services.sessions() as session:
        assert await merge_group(session, anna) == [anna, other]

    await unmerge(hub_env.services, hub_env.supervisor, merge.id)
    assert (await snapshot(hub_env, anna), await snapshot(hub_env, other)) == before

    async with hub_env.services.sessions() as session:
        audit = (await session.execute(select(AuditEntry.action, AuditEntry.object_id).order_by(AuditEntry.id))).all()
        kinds = (
            await session.execute(
                select(TimelineEntry.contact_id, TimelineEntry.kind)
                .where(TimelineEntry.kind.in_(MERGE_KINDS)).order_by(TimelineEntry.id)
            )
        ).all()
        events = (await session.scalars(select(EventRecord.type).where(EventRecord.type.like("contact.%merged")))).all()
    assert [a for a in audit if a[0].startswith("contact.")] == [
        ("contact.merged", str(anna)), ("contact.merged_away", str(other)),
        ("contact.unmerged", str(anna)), ("contact.unmerged", str(other)),
    ]
    assert kinds == [(anna, "merged"), (other, "merged_away"), (anna, "unmerged"), (other, "unmerged")]
    assert events == ["contact.merged", "contact.unmerged"]


async def test_what_arrived_on_the_merged_side_meanwhile_goes_back_with_it(hub_env: Env) -> None:
    anna, other = await two_people(hub_env)
    merge = await merge_contacts(hub_env.services, hub_env.supervisor, anna, other)
    # Anna-the-other writes again on her own conversation and opens a new one elsewhere;
    # both now land on the surviving record.
    again = await hub_env.customer_writes(id="b-3", email="a.schmidt@firma.de")
    async with hub_env.services.sessions() as session, session.begin():
        for conversation in (await session.scalars(select(Conversation))).all():
            conversation.status = "resolved"
    fresh = await hub_env.customer_writes(id="b-4", email="a.schmidt@firma.de")
    assert again.contact_id == fresh.contact_id == anna and fresh.conversation_id != again.conversation_id
    mine = await hub_env.customer_writes(id="a-2", email="anna@example.de", channel="shop")

    await unmerge(hub_env.services, hub_env.supervisor, merge.id)
    async with hub_env.services.sessions() as session:
        owner = dict((await session.execute(select(Conversation.id, Conversation.contact_id))).all())
        entries = dict(
            (await session.execute(select(TimelineEntry.message_id, TimelineEntry.contact_id)
                                   .where(TimelineEntry.message_id.is_not(None)))).all()
        )
        texts = (await session.scalars(select(Message.id).where(Message.conversation_id == fresh.conversation_id))).all()
    assert owner[again.conversation_id] == owner[fresh.conversation_id] == other
    assert owner[mine.conversation_id] == anna
    assert entries[again.message_id] == entries[fresh.message_id] == other and entries[mine.message_id] == anna
    assert texts == [fresh.message_id]


async def test_merges_that_make_no_sense_are_refused_and_change_nothing(hub_env: Env) -> None:
    anna, other = await two_people(hub_env)
    third = (await hub_env.customer_writes(id="c-1", email="c@example.de")).contact_id
    with pytest.raises(ValidationFailed):
        await merge_contacts(hub_env.services, hub_env.supervisor, anna, anna)
    with pytest.raises(NotFound):
        await merge_contacts(hub_env.services, hub_env.supervisor, anna, 10**9)
    with pytest.raises(NotFound):  # an agent of billing sees neither
        await merge_contacts(hub_env.services, hub_env.outsider, anna, other)
    await restrict_processing(hub_env.services, admin_of(hub_env), third, "disputed")
    with pytest.raises(Conflict):
        await merge_contacts(hub_env.services, hub_env.supervisor, anna, third)
    before = await snapshot(hub_env, anna)

    merge = await merge_contacts(hub_env.services, hub_env.supervisor, anna, other)
    with pytest.raises(Conflict):
        await merge_contacts(hub_env.services, hub_env.supervisor, third, other)
    await unmerge(hub_env.services, hub_env.supervisor, merge.id)
    with pytest.raises(Conflict):
        await unmerge(hub_env.services, hub_env.supervisor, merge.id)
    assert await snapshot(hub_env, anna) == before


async def test_a_merge_into_a_record_merged_further_is_undone_in_order(hub_env: Env) -> None:
    anna, other = await two_people(hub_env)
    third = (await hub_env.customer_writes(id="c-1", email="c@example.de")).contact_id
    first = await merge_contacts(hub_env.services, hub_env.supervisor, anna, other)
    second = await merge_contacts(hub_env.services, hub_env.supervisor, third, anna)
    async with hub_env.services.sessions() as session:
        assert sorted(await merge_group(session, third)) == sorted([third, anna, other])
    with pytest.raises(Conflict):
        await unmerge(hub_env.services, hub_env.supervisor, first.id)
    await unmerge(hub_env.services, hub_env.supervisor, second.id)
    await unmerge(hub_env.services, hub_env.supervisor, first.id)
    async with hub_env.services.sessions() as session:
        assert await merge_group(session, third) == [third]


async def test_erasing_a_merged_record_erases_both_and_the_merged_half_is_refused(hub_env: Env) -> None:
    anna, other = await two_people(hub_env)
    await merge_contacts(hub_env.services, hub_env.supervisor, anna, other)
    admin = admin_of(hub_env)
    with pytest.raises(Conflict):
        await erase_contact(hub_env.services, admin, other)
    report = await erase_contact(hub_env.services, admin, anna)
    assert report.contact_ids == [anna, other]
    async with hub_env.services.sessions() as session:
        names = (await session.execute(select(Contact.id, Contact.name, Contact.erased_at).order_by(Contact.id))).all()
    assert [(cid, name, erased is not None) for cid, name, erased in names] == [(anna, None, True), (other, None, True)]
