"""Every text-like column is declared personal or not, so erasure and export miss nothing."""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from hub.db.models import Base
from hub.db.personal_data import (
    BLOB_REFERENCES,
    NOT_PERSONAL,
    PERSONAL,
    personal_columns,
    personal_keys,
)


def _can_hold_text(column_type: TypeEngine[object]) -> bool:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return isinstance(column_type, String | JSON)  # Text and Unicode are Strings


def _text_columns() -> set[str]:
    return {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if _can_hold_text(column.type)
    }


def _all_columns() -> set[str]:
    return {f"{table.name}.{column.name}" for table in Base.metadata.tables.values() for column in table.columns}


def test_every_text_column_is_classified() -> None:
    classified = personal_keys() | set(NOT_PERSONAL)
    unclassified = sorted(_text_columns() - classified)
    assert not unclassified, (
        "classify these columns in hub/db/personal_data.py (PERSONAL or NOT_PERSONAL): "
        + ", ".join(unclassified)
    )


def test_no_column_is_both_personal_and_not() -> None:
    both = sorted(personal_keys() & set(NOT_PERSONAL))
    assert not both, f"declared personal and not personal at once: {both}"


def test_registry_names_only_existing_columns() -> None:
    stale = sorted((personal_keys() | set(NOT_PERSONAL) | set(BLOB_REFERENCES)) - _all_columns())
    assert not stale, f"hub/db/personal_data.py names columns that do not exist: {stale}"


def test_each_personal_column_is_declared_once_and_says_how_to_reach_its_owner() -> None:
    keys = [c.key for c in PERSONAL]
    assert len(keys) == len(set(keys))
    for column in PERSONAL:
        owner_table = column.path.split(" -> ")[-1].split(".")[0]
        assert owner_table in Base.metadata.tables, column
        assert column.path.split(".")[0] == column.table, column
        assert column.what


def test_the_customer_record_is_registered() -> None:
    contact = {c.key for c in personal_columns("contact")}
    assert {
        "contacts.name",
        "contact_identities.address",
        "messages.text",
        "messages.html",
        "messages.subject",
        "attachments.filename",
    } <= contact
    assert "users.email" not in contact
    assert {c.key for c in personal_columns("user")} >= {"users.email", "users.name"}
