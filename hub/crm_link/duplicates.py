"""Duplicate suggestions: contacts that may be the same person, for a human to merge or dismiss.

Exact identities link automatically at ingest; these are the near misses:

- ``same_name_and_company``: the same name (case and spacing aside) at the same company;
- ``similar_email``: the same mailbox spelled differently (``erika.m+shop@x`` and
  ``erikam@x``; dots and ``+tags`` aside, gmail.com = googlemail.com), or the same
  distinctive mailbox (8 letters or more) at another domain. Candidates are the
  addresses that begin like this one up to its first ``.``, ``+``, ``-`` or ``_``;
- ``same_phone_other_format``: a number whose digits say the same number, written
  with another country code or a trunk ``0`` (a channel guessed the wrong region).

Every lookup uses an index (identities by (kind, address), contacts by company), so
suggestions for one contact are cheap at any size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.db.models import Contact, ContactIdentity, DuplicateDismissal, utcnow
from hub.errors import NotFound, ValidationFailed
from hub.services import Services

SAME_NAME_AND_COMPANY = "same_name_and_company"
SIMILAR_EMAIL = "similar_email"
SAME_PHONE_OTHER_FORMAT = "same_phone_other_format"
# Country codes tried for a number written with the wrong one (DACH, neighbours, US/UK).
COUNTRY_CODES = ("49", "43", "41", "31", "32", "33", "39", "44", "45", "48", "352", "420", "1")
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
MIN_DISTINCTIVE_LOCAL = 8
CANDIDATE_LIMIT = 500


@dataclass
class Suggestion:
    """Another contact that may be the same person, and why."""

    contact_id: int
    reasons: list[str] = field(default_factory=list)


def canonical_email(address: str) -> tuple[str, str]:
    """(mailbox without dots and +tag, domain with aliases folded) of a normalized address."""
    local, _, domain = address.rpartition("@")
    return local.split("+", 1)[0].replace(".", ""), DOMAIN_ALIASES.get(domain, domain)


def phone_variants(e164: str) -> set[str]:
    """Other E.164 spellings of the same national number (other country code, trunk 0)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return set()
    national = str(parsed.national_number)
    variants = {f"+{code}{national}" for code in COUNTRY_CODES}
    variants |= {f"+{code}0{national}" for code in COUNTRY_CODES}
    if national.startswith("0"):
        variants.add(f"+{parsed.country_code}{national.lstrip('0')}")
    variants.discard(e164)
    return variants


def _name_key(name: str | None) -> str | None:
    return " ".join(name.casefold().split()) if name else None


async def suggest_duplicates(
    services: Services, principal: Principal, contact_id: int, *, limit: int = 20
) -> list[Suggestion]:
    """Contacts ``principal`` may see that may be the same person as ``contact_id``."""
    async with services.sessions() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.id == contact_id, contact_scope(principal, Contact.id.expression))
        )
        if contact is None:
            raise NotFound("no such contact")
        found: dict[int, Suggestion] = {}

        def note(ids: Iterable[int], reason: str) -> None:
            for other in ids:
                if other != contact.id:
                    entry = found.setdefault(other, Suggestion(other))
                    if reason not in entry.reasons:
                        entry.reasons.append(reason)

        key = _name_key(contact.name)
        if key is not None and contact.company_id is not None:
            rows = await session.execute(
                select(Contact.id, Contact.name).where(Contact.company_id == contact.company_id).limit(CANDIDATE_LIMIT)
            )
            note((cid for cid, name in rows if _name_key(name) == key), SAME_NAME_AND_COMPANY)
        mine = (
            await session.execute(
                select(ContactIdentity.kind, ContactIdentity.address).where(ContactIdentity.contact_id == contact.id)
            )
        ).all()
        for kind, address in mine:
            if kind == "email":
                note(await _similar_emails(session, address), SIMILAR_EMAIL)
            elif kind == "phone":
                note(await _owners(session, "phone", phone_variants(address)), SAME_PHONE_OTHER_FORMAT)
        if not found:
            return []
        visible = set(
            (
                await session.scalars(
                    select(Contact.id).where(
                        Contact.id.in_(list(found)),
                        Contact.erased_at.is_(None),
                        Contact.merged_into_id.is_(None),
                        contact_scope(principal, Contact.id.expression),
                    )
                )
            ).all()
        )
        dismissed = set(
            (
                await session.execute(
                    select(DuplicateDismissal.low_id, DuplicateDismissal.high_id).where(
                        or_(DuplicateDismissal.low_id == contact.id, DuplicateDismissal.high_id == contact.id)
                    )
                )
            ).all()
        )
        others = {high if low == contact.id else low for low, high in dismissed}
    return [found[c] for c in sorted(visible - others)][:limit]


async def _owners(session: AsyncSession, kind: str, addresses: set[str]) -> list[int]:
    if not addresses:
        return []
    return list(
        (
            await session.scalars(
                select(ContactIdentity.contact_id).where(
                    ContactIdentity.kind == kind, ContactIdentity.address.in_(sorted(addresses))
                )
            )
        ).all()
    )


async def _similar_emails(session: AsyncSession, address: str) -> list[int]:
    """Owners of addresses with the same canonical mailbox, or the same distinctive name part."""
    mailbox, domain = canonical_email(address)
    local = address.rpartition("@")[0]
    stem = re.split(r"[.+_-]", local, maxsplit=1)[0]
    if not stem:
        return []
    # A range on the unique (kind, address) index: every address starting with the stem
    # sorts from the stem up to the stem with its last letter raised, in any collation.
    rows = await session.execute(
        select(ContactIdentity.contact_id, ContactIdentity.address)
        .where(
            ContactIdentity.kind == "email",
            ContactIdentity.address >= stem,
            ContactIdentity.address < stem[:-1] + chr(ord(stem[-1]) + 1),
            ContactIdentity.address != address,
        )
        .limit(CANDIDATE_LIMIT)
    )
    hits: list[int] = []
    for contact_id, other in rows:
        other_mailbox, other_domain = canonical_email(other)
        if other_mailbox != mailbox:
            continue
        if other_domain == domain or len(mailbox) >= MIN_DISTINCTIVE_LOCAL:
            hits.append(contact_id)
    return hits


async def dismiss_duplicate(services: Services, principal: Principal, contact_id: int, other_id: int) -> None:
    """Record that the two contacts are different people; dismissing twice is fine."""
    if contact_id == other_id:
        raise ValidationFailed("a contact is not its own duplicate")
    low, high = sorted((contact_id, other_id))
    async with services.sessions() as session:
        seen = (
            await session.scalars(
                select(Contact.id).where(Contact.id.in_((low, high)), contact_scope(principal, Contact.id.expression))
            )
        ).all()
    if len(set(seen)) != 2:
        raise NotFound("no such contact")
    try:
        async with services.transaction() as unit:
            unit.session.add(
                DuplicateDismissal(low_id=low, high_id=high, dismissed_by=principal.user_id, dismissed_at=utcnow())
            )
    except IntegrityError:
        return  # dismissed already
