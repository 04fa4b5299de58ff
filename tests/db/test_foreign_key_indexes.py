"""Deleting rows of the customer record never scans a table: every foreign key into it is indexed.

Retention deletes conversations and messages, erasure deletes identities, and the
database follows each foreign key with ON DELETE CASCADE / SET NULL by looking up the
referring rows. Without an index on the referring column, each deleted row scans the
whole referring table (seconds per thousand rows at a million rows; bench/contacts.py).
"""

from __future__ import annotations

from sqlalchemy import Table

from hub.crm_link.record_map import tables_reaching
from hub.db.models import Base


def indexed_leading_columns(table: Table) -> set[str]:
    """Columns that lead an index (not a partial one), the primary key or a unique constraint."""
    leading = set()
    for index in table.indexes:
        partial = any(index.dialect_options[d].get("where") is not None for d in ("sqlite", "postgresql"))
        if not partial:
            leading.add(next(iter(index.columns)).name)
    for constraint in table.constraints:
        columns = list(getattr(constraint, "columns", []))
        if columns and constraint.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint"):
            leading.add(columns[0].name)
    return leading


def test_every_foreign_key_a_record_delete_follows_is_indexed() -> None:
    tables = dict(Base.metadata.tables)
    record = tables_reaching(tables) | {"contacts"}
    missing = [
        f"{table.name}.{fk.parent.name} -> {fk.column.table.name} (ON DELETE {fk.ondelete})"
        for table in tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name in record
        and fk.ondelete in ("CASCADE", "SET NULL")
        and fk.parent.name not in indexed_leading_columns(table)
    ]
    assert missing == []
