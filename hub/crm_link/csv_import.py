"""CSV import of contacts and companies: a column mapping, dedupe by identity, a dry run, a report per row.

Every row is checked first (addresses normalized, typed attributes, stage); a bad
row is reported with its row number (the header is row 1) and column, and skipped.
Good rows then go in one transaction: all of them, or (when another writer
changed one of their contacts at the same time) none, with a 409 to run it again. A row whose email, phone or platform id
belongs to a contact **updates** that contact (empty fields filled, the file's
attributes written, tags added, new identities linked); a row whose identities
belong to two contacts is refused (merge them first); otherwise a contact is
created. Rows of one file that share an identity become one contact. The dry run
does all of it and rolls back, so its report is exactly what the real run does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.auth.principal import Principal
from hub.crm_link import identities as normalize
from hub.crm_link.annotations import normalize_tags
from hub.crm_link.attributes import check_value, definitions
from hub.crm_link.companies import normalize_domain
from hub.crm_link.contacts import LIFECYCLE_STAGES
from hub.crm_link.timeline import append_timeline
from hub.db.models import Company, Contact, ContactIdentity, ContactTag, Tag, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import Conflict, HubError, ValidationFailed
from hub.events import Event
from hub.messages import Identity
from hub.services import Services, Unit

CONTACT_TARGETS = ("name", "email", "phone", "platform", "company", "lifecycle_stage", "tags", "ignore")
COMPANY_TARGETS = ("name", "domain", "ignore")
MAX_ROWS = 100_000
MAX_CELL = 2000
Action = Literal["created", "updated", "failed"]


@dataclass
class RowError:
    row: int
    column: str | None
    message: str


@dataclass
class RowResult:
    row: int
    action: Action
    contact_id: int | None = None


@dataclass
class ImportReport:
    """What an import did (or, as a dry run, would do)."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    results: list[RowResult] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def fail(self, row: int, column: str | None, message: str) -> None:
        self.failed += 1
        self.errors.append(RowError(row, column, message))
        self.results.append(RowResult(row, "failed"))


@dataclass
class _Row:
    number: int
    name: str | None = None
    identities: list[tuple[str, Identity]] = field(default_factory=list)  # (column, identity)
    company: str | None = None
    stage: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


class _DryRun(Exception):
    """Rolls the dry run's transaction back."""


def read_csv(text: str, delimiter: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows; the delimiter (``,`` ``;`` or tab) is guessed from the header when not given."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ValidationFailed("the CSV is empty")
    if delimiter is None:
        first = text.splitlines()[0]
        delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationFailed(f"the CSV cannot be read (line {reader.line_num}): {exc}") from exc
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise ValidationFailed("the header names a column twice")
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if len(body) > MAX_ROWS:
        raise ValidationFailed(f"at most {MAX_ROWS} rows per import")
    return header, body


def check_mapping(header: Sequence[str], mapping: Mapping[str, str], targets: Sequence[str]) -> dict[int, str]:
    """Column index -> target; 422 for a column the file lacks or a target that does not exist."""
    checked: dict[int, str] = {}
    for column, target in mapping.items():
        if column not in header:
            raise ValidationFailed(f"mapping: the file has no column {column!r}")
        if target not in targets and not (targets is CONTACT_TARGETS and target.startswith("attribute:")
                                          and re.match(r"^attribute:[^\x00-\x1f]{1,100}$", target)):
            raise ValidationFailed(f"mapping: {target!r} is not one of {', '.join(targets)} or attribute:<key>")
        checked[header.index(column)] = target
    return checked


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


async def import_contacts(
    services: Services,
    text: str,
    mapping: Mapping[str, str],
    *,
    actor: Principal | None,
    dry_run: bool,
    region: str | None = None,
    delimiter: str | None = None,
) -> ImportReport:
    """Import contacts from ``text``; ``actor`` None is the command line."""
    header, body = read_csv(text, delimiter)
    columns = check_mapping(header, mapping, CONTACT_TARGETS)
    if not any(t in ("email", "phone", "platform") for t in columns.values()):
        raise ValidationFailed("mapping: map at least one column to email, phone or platform (to find duplicates)")
    report = ImportReport(dry_run=dry_run, rows=len(body))
    async with services.sessions() as session:
        defined = await definitions(session)
    parsed = [r for r in (_parse(i + 2, row, columns, header, defined, region, report) for i, row in enumerate(body)) if r]
    try:
        async with services.transaction() as unit:
            companies: dict[str, int] = {}
            for row in parsed:
                await _apply(unit, row, actor, companies, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except IntegrityError:
        # Another writer linked one of the file's identities meanwhile: nothing was written.
        raise Conflict("a contact of this file changed while it was imported; nothing was imported, run it again") from None
    report.results.sort(key=lambda r: r.row)
    report.errors.sort(key=lambda e: e.row)
    if dry_run:
        rolled_back = {r.contact_id for r in report.results if r.action == "created"}
        for result in report.results:
            if result.contact_id in rolled_back:
                result.contact_id = None  # created by the dry run, so it never existed
    return report


def _parse(
    number: int, row: list[str], columns: dict[int, str], header: Sequence[str],
    defined: Mapping[str, Any], region: str | None, report: ImportReport,
) -> _Row | None:
    parsed = _Row(number)
    for index, target in columns.items():
        value, column = _cell(row, index), header[index]
        if not value or target == "ignore":
            continue
        try:
            if len(value) > MAX_CELL or "\x00" in value:
                raise ValidationFailed(f"longer than {MAX_CELL} characters or holds a NUL character")
            if target == "name":
                parsed.name = value[:200]
            elif target in ("email", "phone", "platform"):
                for part in re.split(r"[;,]\s*" if target != "platform" else r";\s*", value):
                    if part.strip():
                        parsed.identities.append((column, _identity(target, part.strip(), region)))
            elif target == "company":
                parsed.company = value[:200]
            elif target == "lifecycle_stage":
                stage = value.lower().replace(" ", "_")
                if stage not in LIFECYCLE_STAGES:
                    raise ValidationFailed(f"must be one of {', '.join(LIFECYCLE_STAGES)}")
                parsed.stage = stage
            elif target == "tags":
                parsed.tags = normalize_tags([t for t in re.split(r"[;,]", value) if t.strip()])
            else:
                key = target.removeprefix("attribute:")
                parsed.attributes[key] = _attribute(defined.get(key), value)
        except HubError as exc:
            report.fail(number, column, exc.detail)
            return None
    if not parsed.identities:
        report.fail(number, None, "no email, phone or platform id: the row cannot be matched or created")
        return None
    return parsed


def _identity(kind: str, value: str, region: str | None) -> Identity:
    if kind == "email":
        return normalize.email(value)
    if kind == "phone":
        return normalize.phone(value, region)
    namespace, colon, user_id = value.partition(":")
    if not colon:
        raise ValidationFailed("a platform id is written 'namespace:user id'")
    return normalize.platform(namespace, user_id)


def _attribute(definition: Any, value: str) -> Any:
    if definition is None:
        return value
    if definition.type == "number":
        try:
            return check_value(definition, float(value.replace(",", ".")) if "." in value or "," in value else int(value))
        except ValueError:
            raise ValidationFailed(f"attribute {definition.key!r} must be a number") from None
    return check_value(definition, value)


async def _apply(
    unit: Unit, row: _Row, actor: Principal | None, companies: dict[str, int], report: ImportReport
) -> None:
    session = unit.session
    holders = set(
        (
            await session.scalars(
                select(ContactIdentity.contact_id).where(
                    ContactIdentity.kind.in_({i.kind.value for _, i in row.identities}),
                    ContactIdentity.address.in_({i.address for _, i in row.identities}),
                )
            )
        ).all()
    )
    if len(holders) > 1:
        report.fail(row.number, None, f"its identities belong to different contacts {sorted(holders)}: merge them first")
        return
    contact, created = await _contact(session, holders)
    if contact.erased_at is not None or contact.merged_into_id is not None:
        report.fail(row.number, None, f"contact {contact.id} was erased or merged; it is not changed")
        return
    await _fill(session, contact, row, companies)
    await insert_ignore(
        session, ContactIdentity,
        [{"contact_id": contact.id, "kind": i.kind.value, "address": i.address, "created_at": utcnow()}
         for _, i in row.identities],
    )
    await append_timeline(
        session, contact.id, "imported", actor_user_id=actor.user_id if actor else None, data={"created": created}
    )
    unit.emit(Event(ev.CONTACT_CREATED if created else ev.CONTACT_UPDATED, contact_id=contact.id,
                    user_id=actor.user_id if actor else None, data={} if created else {"fields": ["import"]}))
    report.results.append(RowResult(row.number, "created" if created else "updated", contact.id))
    if created:
        report.created += 1
    else:
        report.updated += 1


async def _contact(session: AsyncSession, holders: set[int]) -> tuple[Contact, bool]:
    if holders:
        (contact_id,) = holders
        contact = await session.get(Contact, contact_id, with_for_update=True)
        assert contact is not None
        return contact, False
    now = utcnow()
    contact = Contact(attributes={}, created_at=now, updated_at=now)
    session.add(contact)
    await session.flush()
    return contact, True


async def _fill(session: AsyncSession, contact: Contact, row: _Row, companies: dict[str, int]) -> None:
    if row.name and not contact.name:
        contact.name = row.name
    if row.stage and not contact.lifecycle_stage:
        contact.lifecycle_stage = row.stage
    if row.company and contact.company_id is None:
        contact.company_id = await _company(session, row.company, companies)
    if row.attributes:
        contact.attributes = {**(contact.attributes or {}), **row.attributes}
    if row.tags:
        await insert_ignore(session, Tag, [{"name": t} for t in row.tags])
        tag_ids = (await session.scalars(select(Tag.id).where(Tag.name.in_(row.tags)))).all()
        await insert_ignore(session, ContactTag, [{"contact_id": contact.id, "tag_id": t} for t in tag_ids])
    contact.updated_at = utcnow()
    await session.flush()


async def _company(session: AsyncSession, name: str, cache: dict[str, int]) -> int:
    key = " ".join(name.casefold().split())
    if key not in cache:
        found = await session.scalar(select(Company.id).where(func.lower(Company.name) == name.lower()).limit(1))
        if found is None:
            company = Company(name=name, created_at=utcnow())
            session.add(company)
            await session.flush()
            found = company.id
        cache[key] = found
    return cache[key]


async def import_companies(
    services: Services, text: str, mapping: Mapping[str, str], *, dry_run: bool, delimiter: str | None = None
) -> ImportReport:
    """Import companies: matched by domain, else by name (case aside); the name is updated, the rest created."""
    header, body = read_csv(text, delimiter)
    columns = check_mapping(header, mapping, COMPANY_TARGETS)
    if "name" not in columns.values():
        raise ValidationFailed("mapping: map a column to name")
    report = ImportReport(dry_run=dry_run, rows=len(body))
    try:
        async with services.transaction() as unit:
            for index, row in enumerate(body):
                number = index + 2
                values = {target: _cell(row, i) for i, target in columns.items() if target != "ignore"}
                try:
                    if not values.get("name"):
                        raise ValidationFailed("no name")
                    domain = normalize_domain(values.get("domain"))
                except HubError as exc:
                    report.fail(number, None, exc.detail)
                    continue
                name = values["name"][:200]
                found = None
                if domain is not None:
                    found = await unit.session.scalar(select(Company).where(Company.domain == domain).limit(1))
                if found is None:
                    found = await unit.session.scalar(
                        select(Company).where(func.lower(Company.name) == name.lower()).limit(1)
                    )
                if found is None:
                    found = Company(name=name, domain=domain, created_at=utcnow())
                    unit.session.add(found)
                    report.created += 1
                    action: Action = "created"
                else:
                    found.name = name
                    found.domain = domain or found.domain
                    report.updated += 1
                    action = "updated"
                await unit.session.flush()
                report.results.append(RowResult(number, action, None if dry_run and action == "created" else found.id))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report
