"""Duplicate suggestions for a human: near misses that exact identity resolution cannot link."""

from __future__ import annotations

import pytest

from hub.crm_link import identities
from hub.crm_link.companies import create_company
from hub.crm_link.contacts import ContactFields, create_contact
from hub.crm_link.duplicates import (
    canonical_email,
    dismiss_duplicate,
    phone_variants,
    suggest_duplicates,
)
from hub.crm_link.merge import merge_contacts
from hub.messages import Identity
from tests.inbox.outbound_env import Env


async def person(env: Env, name: str | None, *found: Identity, company: int | None = None) -> int:
    contact = await create_contact(env.services, env.supervisor, ContactFields(name=name, company_id=company), found)
    return contact.id


async def reasons(env: Env, contact_id: int) -> dict[int, list[str]]:
    return {s.contact_id: s.reasons for s in await suggest_duplicates(env.services, env.supervisor, contact_id)}


def test_canonical_emails_and_phone_variants() -> None:
    assert canonical_email("erika.m+shop@googlemail.com") == ("erikam", "gmail.com")
    assert canonical_email("erikam@gmail.com") == ("erikam", "gmail.com")
    variants = phone_variants("+4315123456789")  # a German mobile number read as Austrian
    assert "+4915123456789" in variants and "+4315123456789" not in variants


async def test_near_misses_are_suggested_with_their_reasons(hub_env: Env) -> None:
    acme = (await create_company(hub_env.services, hub_env.supervisor, "Acme GmbH", "acme.de")).id
    erika = await person(
        hub_env, "Erika Mustermann", identities.email("erika.mustermann+shop@gmail.com"),
        identities.phone("+4915123456789"), company=acme,
    )
    same_name = await person(hub_env, "erika  MUSTERMANN", company=acme)
    other_company = await person(hub_env, "Erika Mustermann")
    mailbox = await person(hub_env, None, identities.email("erikamustermann@googlemail.com"))
    elsewhere = await person(hub_env, None, identities.email("erika.mustermann@web.de"))
    wrong_region = await person(hub_env, None, identities.phone("+4315123456789"))
    unrelated = await person(hub_env, None, identities.email("erika@gmail.com"), identities.phone("+4930123456"))

    found = await reasons(hub_env, erika)
    assert found == {
        same_name: ["same_name_and_company"],
        mailbox: ["similar_email"],
        elsewhere: ["similar_email"],
        wrong_region: ["same_phone_other_format"],
    }
    assert other_company not in found and unrelated not in found
    assert erika in await reasons(hub_env, wrong_region)


async def test_short_mailboxes_only_match_at_the_same_domain(hub_env: Env) -> None:
    info = await person(hub_env, None, identities.email("info@shop-a.de"))
    await person(hub_env, None, identities.email("info@shop-b.de"))
    tagged = await person(hub_env, None, identities.email("info+news@shop-a.de"))
    assert await reasons(hub_env, info) == {tagged: ["similar_email"]}


async def test_dismissed_merged_and_invisible_contacts_are_not_suggested(hub_env: Env) -> None:
    a = await person(hub_env, None, identities.email("max.meier@example.de"))
    b = await person(hub_env, None, identities.email("maxmeier@example.de"))
    c = await person(hub_env, None, identities.email("max.meier+x@example.de"))
    assert set(await reasons(hub_env, a)) == {b, c}
    await dismiss_duplicate(hub_env.services, hub_env.supervisor, b, a)
    await dismiss_duplicate(hub_env.services, hub_env.supervisor, a, b)  # twice is fine
    assert set(await reasons(hub_env, a)) == {c}
    await merge_contacts(hub_env.services, hub_env.supervisor, a, c)
    assert await reasons(hub_env, a) == {}
    # An agent without the contacts' queues sees no such contact at all.
    with pytest.raises(Exception, match="no such contact"):
        await suggest_duplicates(hub_env.services, hub_env.outsider, a)
