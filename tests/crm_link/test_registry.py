"""The personal-data registry reaches every table of the customer record, and drives export and erasure.

A table another area adds (a visitor session, a call, a quarantined mail) is exported
and erased once it is declared in ``hub/db/personal_data.py``; these tests fail while
it is not.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from hub.auth.accounts import create_user
from hub.auth.principal import Principal, Role
from hub.bootstrap import build_services, sync_config
from hub.crm_link.erasure import erase_contact
from hub.crm_link.export import export_contact
from hub.crm_link.record_map import (
    build_plans,
    default_plans,
    parse_routes,
    scrub_value,
    tables_reaching,
)
from hub.db.models import Base, Contact
from hub.db.personal_data import (
    BLOB_REFERENCES,
    PERSONAL,
    REDIS_KEYS,
    SWEPT,
    PersonalColumn,
    RecordTable,
    personal_keys,
    record_tables,
)
from tests.conftest import make_settings


def test_every_table_that_reaches_a_contact_is_part_of_the_record() -> None:
    missing = sorted(tables_reaching(Base.metadata.tables) - set(record_tables()))
    assert not missing, (
        "these tables reference contacts (directly or through other tables) but are not declared in "
        "hub/db/personal_data.py (RECORD_TABLES, or personal columns with a path), so export and erasure "
        "would miss them: " + ", ".join(missing)
    )


def test_the_check_notices_an_undeclared_table() -> None:
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    Table("chat_visitors", metadata, Column("id", Integer, primary_key=True),
          Column("conversation_id", ForeignKey("conversations.id")), Column("nickname", String(50)))
    assert tables_reaching(metadata.tables) - set(record_tables()) == {"chat_visitors"}


def test_every_path_leads_to_a_contact_and_the_registry_builds() -> None:
    plans = {p.name: p for p in default_plans()}
    assert set(plans) == set(record_tables())
    for name, record in record_tables().items():
        for hops in parse_routes(record.path):
            last_table, last_column = hops[-1]
            column = Base.metadata.tables[last_table].c[last_column]
            # A log may hold the contact id without a foreign key (it outlives nothing it names).
            to_contacts = (last_table, last_column) == ("contacts", "id") or last_column == "contact_id" or any(
                fk.column.table.name == "contacts" for fk in column.foreign_keys
            )
            assert hops[0][0] == name and to_contacts, record
    for column in PERSONAL:
        if column.subject == "contact":
            assert column.path == record_tables()[column.table].path, f"{column.key}: one path per table"


def test_erasure_can_blank_every_personal_column_it_keeps() -> None:
    for plan in default_plans():
        if plan.rule == "scrub":
            for column in plan.personal:
                scrub_value(column)  # raises for a NOT NULL column that cannot be blanked
                unique = any(
                    isinstance(c, UniqueConstraint) and column.name in c.columns for c in plan.table.constraints
                )
                assert not unique or column.nullable, f"{plan.name}.{column.name} is unique: delete such rows"


def test_swept_and_blob_columns_exist() -> None:
    tables = Base.metadata.tables
    for key in (*SWEPT, *BLOB_REFERENCES):
        table, _, column = key.partition(".")
        assert column in tables[table].c, key
    for key in SWEPT:
        assert key in personal_keys(), f"{key} is swept, so it holds personal data: classify it"
        assert len(tables[key.partition(".")[0]].primary_key.columns) == 1
    assert all("{contact_id}" in pattern for pattern in REDIS_KEYS)


async def test_a_table_declared_in_the_registry_is_exported_and_erased_without_other_code(
    database_url: str, tmp_path: Path
) -> None:
    extra = MetaData()
    notes = Table(
        "visitor_notes", extra, Column("id", Integer, primary_key=True), Column("contact_id", Integer, nullable=False),
        Column("note", Text, nullable=False), Column("nickname", String(50)),
    )
    tables = {**Base.metadata.tables, "visitor_notes": notes}
    personal = (
        *PERSONAL,
        PersonalColumn("visitor_notes", "note", "contact", "what the visitor typed", "visitor_notes.contact_id"),
        PersonalColumn("visitor_notes", "nickname", "contact", "chosen nickname", "visitor_notes.contact_id"),
    )
    records = {**record_tables(), "visitor_notes": RecordTable("visitor_notes", "visitor_notes.contact_id", "scrub", "notes")}
    plans = build_plans(records, personal, tables)

    services = build_services(make_settings(database_url, tmp_path / "data"))
    try:
        await sync_config(services)
        async with services.engine.begin() as conn:
            await conn.run_sync(extra.create_all)
        async with services.sessions() as session, session.begin():
            mine, other = Contact(name="Mine", attributes={}), Contact(name="Other", attributes={})
            session.add_all([mine, other])
            await session.flush()
            await session.execute(
                notes.insert(),
                [
                    {"contact_id": mine.id, "note": "VISITOR-SECRET-XRAY", "nickname": "xray"},
                    {"contact_id": other.id, "note": "NOT-MINE-YANKEE", "nickname": "yankee"},
                ],
            )
        user_id = await create_user(
            services, email="dpo@hub.test", name="DPO", role="admin", password=None, queues=[], skills={},
            actor_id=None,
        )
        admin = Principal(user_id=user_id, email="dpo@hub.test", name="DPO", role=Role.ADMIN, queue_ids=frozenset(),
                          via="token")

        export = await export_contact(services, admin, mine.id, plans=plans)
        with export.file:
            document = json.loads(zipfile.ZipFile(io.BytesIO(export.file.read())).read("contact.json"))
        assert document["records"]["visitor_notes"] == [
            {"id": 1, "contact_id": mine.id, "note": "VISITOR-SECRET-XRAY", "nickname": "xray"}
        ]

        report = await erase_contact(services, admin, mine.id, plans=plans)
        assert report.tables["visitor_notes"] == {"rows": 1, "action": "scrub", "columns": ["note", "nickname"]}
        async with services.sessions() as session:
            rows = (await session.execute(select(notes.c.contact_id, notes.c.note, notes.c.nickname))).all()
        assert sorted(rows) == sorted([(mine.id, "", None), (other.id, "NOT-MINE-YANKEE", "yankee")])
    finally:
        async with services.engine.begin() as conn:
            await conn.run_sync(extra.drop_all)
        await services.engine.dispose()
