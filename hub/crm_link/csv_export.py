"""CSV export of contacts, streamed in pages, with spreadsheet formulas made inert.

A cell a spreadsheet would run as a formula (it begins with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return: OWASP "CSV injection") gets a leading ``'``, so
``=HYPERLINK("http://evil", "x")`` arrives as text. Plain numbers and phone numbers
(``+49 30 1234567``) are left as they are: a spreadsheet reads them as numbers at worst.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crm_link.annotations import tags_of
from hub.crm_link.attributes import definitions
from hub.db.models import Company, Contact, ContactIdentity
from hub.services import Services

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^[+-]?\d[\d ().-]*$")
PAGE = 1000
BASE_COLUMNS = ("id", "name", "emails", "phones", "platform_ids", "company", "lifecycle_stage", "owner_id", "tags",
                "created_at")


def neutralize(value: Any) -> str:
    """The cell's text, prefixed with ``'`` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER_LIKE.match(text):
        return "'" + text
    return text


async def export_rows(
    services: Services, where: Sequence[ColumnElement[bool]], *, delimiter: str = ","
) -> AsyncIterator[bytes]:
    """CSV (UTF-8 with BOM, for spreadsheets) of the contacts matching ``where``, oldest first, in chunks."""
    async with services.sessions() as session:
        attribute_keys = list(await definitions(session))
    header = [*BASE_COLUMNS, *(f"attribute:{key}" for key in attribute_keys)]
    yield "\ufeff".encode() + _line(header, delimiter)
    last = 0
    while True:
        async with services.sessions() as session:
            contacts = list(
                (
                    await session.scalars(
                        select(Contact)
                        .where(Contact.id > last, Contact.erased_at.is_(None), Contact.merged_into_id.is_(None), *where)
                        .order_by(Contact.id)
                        .limit(PAGE)
                    )
                ).all()
            )
            if not contacts:
                return
            chunk = await _rows(session, contacts, attribute_keys)
        yield b"".join(_line(row, delimiter) for row in chunk)
        last = contacts[-1].id


async def _rows(session: AsyncSession, contacts: list[Contact], attribute_keys: list[str]) -> list[list[Any]]:
    ids = [c.id for c in contacts]
    identities: dict[int, dict[str, list[str]]] = {}
    for contact_id, kind, address in await session.execute(
        select(ContactIdentity.contact_id, ContactIdentity.kind, ContactIdentity.address)
        .where(ContactIdentity.contact_id.in_(ids))
        .order_by(ContactIdentity.id)
    ):
        identities.setdefault(contact_id, {}).setdefault(kind, []).append(address)
    companies = dict(
        (await session.execute(
            select(Company.id, Company.name).where(Company.id.in_({c.company_id for c in contacts if c.company_id}))
        )).all()
    )
    tags = await tags_of(session, ids)
    rows = []
    for c in contacts:
        own = identities.get(c.id, {})
        rows.append([
            c.id, c.name, "; ".join(own.get("email", [])), "; ".join(own.get("phone", [])),
            "; ".join(own.get("platform", [])), companies.get(c.company_id) if c.company_id else None,
            c.lifecycle_stage, c.owner_id, "; ".join(tags.get(c.id, [])), c.created_at.isoformat(),
            *((c.attributes or {}).get(key) for key in attribute_keys),
        ])
    return rows


def _line(cells: Sequence[Any], delimiter: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow([neutralize(c) for c in cells])
    return buffer.getvalue().encode()
