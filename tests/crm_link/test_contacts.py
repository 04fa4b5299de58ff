"""Contact actions: creation with identities, typed attributes, stage, owner, company, tags, notes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.auth.principal import Principal, Role
from hub.crm_link import identities
from hub.crm_link.annotations import add_note, delete_note, set_tags
from hub.crm_link.attributes import define_attribute, remove_attribute
from hub.crm_link.companies import create_company, update_company
from hub.crm_link.contacts import (
    ContactFields,
    add_identity,
    create_contact,
    remove_identity,
    update_contact,
)
from hub.db.models import Contact, ContactIdentity, TimelineEntry
from hub.errors import Conflict, Forbidden, ValidationFailed
from tests.inbox.outbound_env import Env


def admin(env: Env) -> Principal:
    return Principal(env.supervisor.user_id, "a@hub.test", "Admin", Role.ADMIN, frozenset(), "token")


async def kinds(env: Env, contact_id: int) -> list[str]:
    async with env.services.sessions() as session:
        return list(
            (await session.scalars(
                select(TimelineEntry.kind).where(TimelineEntry.contact_id == contact_id).order_by(TimelineEntry.id)
            )).all()
        )


async def test_a_created_contact_has_its_identities_and_an_agent_owns_what_they_create(hub_env: Env) -> None:
    contact = await create_contact(
        hub_env.services, hub_env.agent, ContactFields(name="Neu", lifecycle_stage="lead"),
        [identities.email("neu@example.de"), identities.phone("+4930111222"), identities.email("neu@example.de")],
    )
    assert contact.owner_id == hub_env.agent.user_id and contact.lifecycle_stage == "lead"
    async with hub_env.services.sessions() as session:
        addresses = (await session.scalars(select(ContactIdentity.address).order_by(ContactIdentity.id))).all()
    assert addresses == ["neu@example.de", "+4930111222"]
    assert await kinds(hub_env, contact.id) == ["identity_added", "identity_added"]
    # The address is taken now: a second contact with it is refused, and nothing is written.
    with pytest.raises(Conflict) as taken:
        await create_contact(hub_env.services, hub_env.agent, ContactFields(name="Doppelt"),
                             [identities.email("other@example.de"), identities.email("neu@example.de")])
    assert taken.value.extra == {"code": "identity_taken", "contact_id": contact.id}
    async with hub_env.services.sessions() as session:
        assert len((await session.scalars(select(Contact))).all()) == 1


async def test_identities_are_added_and_removed_on_the_timeline(hub_env: Env) -> None:
    contact_id = (await hub_env.customer_writes()).contact_id
    row = await add_identity(hub_env.services, hub_env.agent, contact_id, identities.phone("whatsapp:+4917612345678"))
    assert (row.kind, row.address) == ("phone", "+4917612345678")
    again = await hub_env.customer_writes(id="m-2", email="x@example.de")
    with pytest.raises(Conflict):
        await add_identity(hub_env.services, hub_env.agent, again.contact_id, identities.phone("+4917612345678"))
    await remove_identity(hub_env.services, hub_env.agent, contact_id, row.id)
    assert (await kinds(hub_env, contact_id))[-4:] == ["identity_added", "contact_updated", "identity_removed",
                                                       "contact_updated"]


async def test_defined_attributes_are_type_checked_and_free_ones_are_not(hub_env: Env) -> None:
    services, boss = hub_env.services, admin(hub_env)
    await define_attribute(services, boss, "city", "Stadt", "text")
    await define_attribute(services, boss, "revenue", "Umsatz", "number")
    await define_attribute(services, boss, "birthday", "Geburtstag", "date")
    await define_attribute(services, boss, "tier", "Stufe", "choice", ["gold", "silver"])
    with pytest.raises(Conflict):
        await define_attribute(services, boss, "tier", "Stufe", "text")
    with pytest.raises(Forbidden):
        await define_attribute(services, hub_env.supervisor, "x", "X", "text")
    for bad in ({"key": "Bad Key", "type": "text"}, {"key": "k", "type": "color"}, {"key": "k", "type": "choice"}):
        with pytest.raises(ValidationFailed):
            await define_attribute(services, boss, bad["key"], "L", bad["type"])
    contact_id = (await hub_env.customer_writes()).contact_id

    good = {"city": "Berlin", "revenue": 12.5, "birthday": "1980-02-29", "tier": "gold", "free": True}
    contact = await update_contact(services, contact_id, actor=hub_env.agent, attributes=good)
    assert contact.attributes == good
    for bad in ({"revenue": "viel"}, {"revenue": True}, {"birthday": "29.02.1980"}, {"birthday": "1981-02-29"},
                {"tier": "bronze"}, {"city": 5}):
        with pytest.raises(ValidationFailed):
            await update_contact(services, contact_id, actor=hub_env.agent, attributes=bad)  # type: ignore[arg-type]
    await remove_attribute(services, boss, "tier")
    contact = await update_contact(services, contact_id, actor=hub_env.agent, attributes={"tier": "bronze"})
    assert contact.attributes["tier"] == "bronze"


async def test_stage_owner_and_company_are_checked(hub_env: Env) -> None:
    contact_id = (await hub_env.customer_writes()).contact_id
    company = await create_company(hub_env.services, hub_env.supervisor, " Acme GmbH ", "https://Acme.DE/")
    assert (company.name, company.domain) == ("Acme GmbH", "acme.de")
    with pytest.raises(Forbidden):
        await create_company(hub_env.services, hub_env.agent, "X", None)
    with pytest.raises(ValidationFailed):
        await create_company(hub_env.services, hub_env.supervisor, "X", "not a domain")
    renamed = await update_company(hub_env.services, hub_env.supervisor, company.id, name="Acme AG")
    assert renamed.name == "Acme AG"
    contact = await update_contact(
        hub_env.services, contact_id, actor=hub_env.agent, company_id=company.id, lifecycle_stage="customer",
        owner_id=hub_env.colleague.user_id,
    )
    assert (contact.company_id, contact.lifecycle_stage, contact.owner_id) == (
        company.id, "customer", hub_env.colleague.user_id
    )
    for bad in ({"company_id": 999}, {"lifecycle_stage": "friend"}, {"owner_id": 999}):
        with pytest.raises(ValidationFailed):
            await update_contact(hub_env.services, contact_id, actor=hub_env.agent, **bad)  # type: ignore[arg-type]


async def test_tags_and_notes(hub_env: Env) -> None:
    contact_id = (await hub_env.customer_writes()).contact_id
    assert await set_tags(hub_env.services, hub_env.agent, contact_id, [" VIP ", "vip", "Rückruf"]) == ["rückruf", "vip"]
    assert await set_tags(hub_env.services, hub_env.agent, contact_id, ["vip", "b2b"]) == ["b2b", "vip"]
    with pytest.raises(ValidationFailed):
        await set_tags(hub_env.services, hub_env.agent, contact_id, ["a,b"])
    note = await add_note(hub_env.services, hub_env.agent, contact_id, " Mag keine Anrufe ")
    assert note.body == "Mag keine Anrufe"
    with pytest.raises(Forbidden):
        await delete_note(hub_env.services, hub_env.colleague, contact_id, note.id)
    await delete_note(hub_env.services, hub_env.agent, contact_id, note.id)
    timeline = await kinds(hub_env, contact_id)
    assert timeline.count("tagged") == 3 and timeline.count("untagged") == 1 and "contact_note" in timeline
