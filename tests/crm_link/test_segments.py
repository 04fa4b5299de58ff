"""Segments as SQL: the same definition selects contacts, inbox conversations and answers membership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.crm_link import identities
from hub.crm_link.annotations import set_tags
from hub.crm_link.consent import record_consent
from hub.crm_link.contacts import ContactFields, create_contact, update_contact
from hub.crm_link.merge import merge_contacts
from hub.crm_link.restriction import restrict_processing
from hub.crm_link.segment_store import create_segment, segments_of_contact
from hub.crm_link.segments import (
    contact_filter,
    conversation_filter,
    is_member,
    parse_definition,
    period_start,
)
from hub.crm_link.timeline import append_timeline
from hub.db.models import Contact, Conversation
from hub.errors import ValidationFailed
from tests.crm_link.test_restriction import admin_of
from tests.inbox.outbound_env import Env

NOW = datetime(2030, 3, 20, 12, 0, tzinfo=UTC)
BERLIN_CALLERS = {
    "all": [
        {"field": "lifecycle_stage", "op": "eq", "value": "customer"},
        {"attribute": "city", "op": "eq", "value": "Berlin"},
        {"activity": {"kind": "call", "min_count": 2, "period": "this_month", "timezone": "Europe/Berlin"}},
    ]
}


async def person(env: Env, email: str, **fields: Any) -> int:
    contact = await create_contact(env.services, env.supervisor, ContactFields(**fields), [identities.email(email)])
    return contact.id


async def calls(env: Env, contact_id: int, *when: datetime) -> None:
    async with env.services.sessions() as session, session.begin():
        for at in when:
            await append_timeline(session, contact_id, "call", occurred_at=at, data={"duration_seconds": 60})


async def members(env: Env, definition: dict[str, Any]) -> set[int]:
    checked = parse_definition(definition)
    async with env.services.sessions() as session:
        return set(
            (await session.scalars(select(Contact.id).where(contact_filter(checked, Contact.id.expression, now=NOW)))).all()
        )


async def test_customers_in_berlin_who_called_twice_this_month(hub_env: Env) -> None:
    this_month = NOW - timedelta(days=3)
    last_month = NOW - timedelta(days=30)
    berlin = {"city": "Berlin"}
    twice = await person(hub_env, "a@x.de", lifecycle_stage="customer", attributes=berlin)
    await calls(hub_env, twice, this_month, this_month + timedelta(hours=1))
    once = await person(hub_env, "b@x.de", lifecycle_stage="customer", attributes=berlin)
    await calls(hub_env, once, this_month, last_month)
    munich = await person(hub_env, "c@x.de", lifecycle_stage="customer", attributes={"city": "München"})
    await calls(hub_env, munich, this_month, this_month)
    lead = await person(hub_env, "d@x.de", lifecycle_stage="lead", attributes=berlin)
    await calls(hub_env, lead, this_month, this_month)
    # The first of the month at 00:30 in Berlin is still February 28th in UTC.
    early = await person(hub_env, "e@x.de", lifecycle_stage="customer", attributes=berlin)
    await calls(hub_env, early, datetime(2030, 2, 28, 23, 30, tzinfo=UTC), this_month)
    assert await members(hub_env, BERLIN_CALLERS) == {twice, early}


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"field": "name", "op": "contains", "value": "MEIER"}, {"meier"}),
        ({"field": "name", "op": "is_empty"}, {"nameless"}),
        ({"field": "lifecycle_stage", "op": "in", "value": ["lead", "prospect"]}, {"meier", "nameless"}),
        ({"field": "lifecycle_stage", "op": "ne", "value": "lead"}, {"schulz", "nameless"}),
        ({"attribute": "revenue", "op": "gte", "value": 1000}, {"schulz"}),
        ({"attribute": "revenue", "op": "lt", "value": 1000}, {"meier"}),
        ({"attribute": "since", "op": "lt", "value": "2020-01-01"}, {"schulz"}),
        ({"attribute": "vip", "op": "eq", "value": True}, {"meier"}),
        ({"attribute": "city", "op": "in", "value": ["Hamburg", "Köln"]}, {"schulz"}),
        ({"attribute": "city", "op": "missing"}, {"meier", "nameless"}),
        ({"tag": "VIP"}, {"meier"}),
        ({"has_identity": "phone"}, {"schulz"}),
        ({"not": {"has_identity": "phone"}}, {"meier", "nameless"}),
        ({"any": [{"tag": "vip"}, {"attribute": "city", "op": "eq", "value": "Köln"}]}, {"meier", "schulz"}),
        ({"consent": {"purpose": "marketing", "channel": "email", "allowed": True}}, {"schulz"}),
        ({"consent": {"purpose": "service", "channel": "email", "allowed": False}}, {"meier"}),
        ({"activity": {"kind": "note", "min_count": 0, "max_count": 0}}, {"meier", "schulz", "nameless"}),
        ({"field": "created_at", "op": "after", "value": "2000-01-01T00:00:00+00:00"}, {"meier", "schulz", "nameless"}),
    ],
)
async def test_each_kind_of_condition(hub_env: Env, definition: dict[str, Any], expected: set[str]) -> None:
    who = hub_env.supervisor
    ids = {
        "meier": await person(hub_env, "meier@x.de", name="Erika Meier", lifecycle_stage="lead",
                              attributes={"revenue": 250, "vip": True}),
        "schulz": await person(hub_env, "schulz@x.de", name="Schulz", lifecycle_stage="customer",
                               attributes={"revenue": 5000.5, "since": "2011-05-01", "city": "Köln"}),
        "nameless": await person(hub_env, "n@x.de", lifecycle_stage="prospect"),
    }
    from hub.crm_link.contacts import add_identity

    await add_identity(hub_env.services, who, ids["schulz"], identities.phone("+4922112345"))
    await set_tags(hub_env.services, who, ids["meier"], ["vip"])
    async with hub_env.services.transaction() as unit:
        await record_consent(unit, ids["schulz"], "marketing", "email", True, "web_form")
        await record_consent(unit, ids["meier"], "all", "email", False, "agent")
    names = {v: k for k, v in ids.items()}
    assert {names[c] for c in await members(hub_env, definition)} == expected


async def test_conversations_of_members_and_single_membership(hub_env: Env) -> None:
    first = await hub_env.customer_writes(id="1", email="vip@x.de")
    await hub_env.customer_writes(id="2", email="other@x.de")
    await set_tags(hub_env.services, hub_env.supervisor, first.contact_id, ["vip"])
    vip = parse_definition({"tag": "vip"})
    async with hub_env.services.sessions() as session:
        conversations = (await session.scalars(select(Conversation.id).where(conversation_filter(vip, now=NOW)))).all()
        assert conversations == [first.conversation_id]
        assert await is_member(session, vip, first.contact_id, now=NOW)
        assert not await is_member(session, vip, first.contact_id + 1, now=NOW)


async def test_routing_rules_ask_which_named_segments_a_contact_is_in(hub_env: Env) -> None:
    vip = await person(hub_env, "vip@x.de", lifecycle_stage="customer")
    frozen = await person(hub_env, "frozen@x.de", lifecycle_stage="customer")
    lead = await person(hub_env, "lead@x.de", lifecycle_stage="lead")
    await set_tags(hub_env.services, hub_env.supervisor, vip, ["vip"])
    await create_segment(hub_env.services, hub_env.supervisor, "Customers", None,
                         {"field": "lifecycle_stage", "op": "eq", "value": "customer"})
    await create_segment(hub_env.services, hub_env.supervisor, "VIP", None, {"tag": "vip"})
    await restrict_processing(hub_env.services, admin_of(hub_env), frozen, "disputed")
    wanted = {"Customers", "VIP", "No such segment"}
    async with hub_env.services.sessions() as session:
        assert await segments_of_contact(session, wanted, vip, now=NOW) == {"Customers", "VIP"}
        assert await segments_of_contact(session, {"Customers"}, vip, now=NOW) == {"Customers"}
        assert await segments_of_contact(session, wanted, lead, now=NOW) == frozenset()
        # Art. 18: no automated processing of a restricted contact, so no segment for rules.
        assert await segments_of_contact(session, wanted, frozen, now=NOW) == frozenset()
        assert await segments_of_contact(session, set(), vip, now=NOW) == frozenset()


async def test_erased_and_merged_away_contacts_are_never_members(hub_env: Env) -> None:
    kept = await person(hub_env, "k@x.de", lifecycle_stage="customer")
    gone = await person(hub_env, "g@x.de", lifecycle_stage="customer")
    await merge_contacts(hub_env.services, hub_env.supervisor, kept, gone)
    customers = {"field": "lifecycle_stage", "op": "eq", "value": "customer"}
    assert await members(hub_env, customers) == {kept}
    await update_contact(hub_env.services, kept, actor=None, lifecycle_stage="lead")
    assert await members(hub_env, customers) == set()


@pytest.mark.parametrize(
    ("definition", "where"),
    [
        ([], "$"),
        ({"all": []}, "$"),
        ({"all": [{"field": "password", "op": "eq", "value": 1}]}, "$.all[0]"),
        ({"field": "name", "op": "like", "value": "x"}, "$"),
        ({"field": "name", "op": "before", "value": "2020-01-01T00:00:00+00:00"}, "$"),
        ({"field": "created_at", "op": "after", "value": "2020-01-01"}, "$"),
        ({"attribute": "x", "op": "in", "value": []}, "$"),
        ({"activity": {"kind": "call", "period": "this_decade"}}, "$.activity"),
        ({"activity": {"within_days": 3, "period": "today"}}, "$.activity"),
        ({"activity": {"timezone": "Mars/Olympus"}}, "$.activity"),
        ({"consent": {"purpose": "spam", "channel": "email", "allowed": True}}, "$.consent"),
        ({"not": {"tag": ""}}, "$.not.tag"),
        ({"color": "red"}, "$"),
        ({"any": [{"tag": "x"}] * 60}, "$.any"),
    ],
)
def test_bad_definitions_say_where(definition: Any, where: str) -> None:
    with pytest.raises(ValidationFailed) as failed:
        parse_definition(definition)
    assert f"at {where}" in failed.value.detail


def test_periods_start_in_the_given_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Berlin")
    assert period_start("this_month", NOW, zone) == datetime(2030, 3, 1, tzinfo=zone)
    assert period_start("this_week", NOW, zone) == datetime(2030, 3, 18, tzinfo=zone)  # a Monday
    assert period_start("today", NOW, zone) == datetime(2030, 3, 20, tzinfo=zone)
    assert period_start("this_year", NOW, zone) == datetime(2030, 1, 1, tzinfo=zone)
