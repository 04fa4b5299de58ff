"""The customer record as SQL: which rows of which table belong to a contact, from the registry.

``hub.db.personal_data`` names the tables and personal columns and how each row
reaches its contact (a path of ``table.column`` hops). This module turns that into
WHERE clauses and scrub values, for export, erasure and retention alike; none of
them names a table of the record itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, Select, String, Table, false, or_, select
from sqlalchemy.types import TypeDecorator, TypeEngine

from hub.db.models import Base
from hub.db.personal_data import (
    PERSONAL,
    EraseRule,
    MergeRule,
    PersonalColumn,
    RecordTable,
    record_tables,
)

Hop = tuple[str, str]  # (table, column)


def parse_routes(path: str) -> tuple[tuple[Hop, ...], ...]:
    """A path with alternatives (``"a.x | a.y"``: a row reaches the contact through either)."""
    return tuple(parse_path(alternative) for alternative in path.split("|"))


def parse_path(path: str) -> tuple[Hop, ...]:
    """``"a.x -> b.y"`` as ((a, x), (b, y))."""
    hops: list[Hop] = []
    for part in path.split("->"):
        table, dot, column = part.strip().partition(".")
        if not dot or not table or not column:
            raise ValueError(f"bad path step {part.strip()!r} in {path!r}")
        hops.append((table, column))
    return tuple(hops)


def _holds_text(column_type: TypeEngine[Any]) -> bool:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return isinstance(column_type, String)


def _holds_json(column_type: TypeEngine[Any]) -> bool:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return isinstance(column_type, JSON)


def scrub_value(column: Column[Any]) -> Any:
    """What an erased value becomes: NULL where allowed, else an empty string or object."""
    if column.nullable:
        return None
    if _holds_json(column.type):
        return {}
    if _holds_text(column.type):
        return ""
    raise ValueError(f"{column.table.name}.{column.name}: cannot blank a NOT NULL {column.type} column")


@dataclass(frozen=True)
class TablePlan:
    """One table of the record: how to find a contact's rows and what erasure does to them."""

    table: Table
    routes: tuple[tuple[Hop, ...], ...]
    rule: EraseRule
    personal: tuple[Column[Any], ...]
    export: bool
    what: str
    merge: MergeRule
    _tables: Mapping[str, Table]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def depth(self) -> int:
        return max(len(hops) for hops in self.routes)

    def belongs_to(self, contact_ids: Sequence[int]) -> ColumnElement[bool]:
        """WHERE clause: the rows of ``self.table`` that reach one of ``contact_ids``."""
        if not contact_ids:
            return false()
        return or_(*(self._route(hops, contact_ids) for hops in self.routes))

    def within(self, table: str, ids: Sequence[int]) -> ColumnElement[bool] | None:
        """WHERE clause: the rows that reach one of the rows ``ids`` of ``table`` on their way to the
        contact (e.g. the messages and attachments of some conversations); None when no route passes it."""
        conditions = []
        for hops in self.routes:
            names = [t for t, _ in hops]
            if table in names[1:]:
                anchor = names.index(table, 1)
                conditions.append(self._walk_back(hops, anchor - 1, ids))
            elif names[0] == table:
                conditions.append(self.table.primary_key.columns[0].in_(list(ids)))
        return or_(*conditions) if conditions else None

    def _route(self, hops: tuple[Hop, ...], contact_ids: Sequence[int]) -> ColumnElement[bool]:
        return self._walk_back(hops, len(hops) - 1, contact_ids)

    def _walk_back(self, hops: tuple[Hop, ...], start: int, ids: Sequence[int]) -> ColumnElement[bool]:
        """Hop ``start``'s column IN ``ids``, then back to this table: each step's column holds the next one's key."""
        table_name, column_name = hops[start]
        condition: ColumnElement[bool] = self._tables[table_name].c[column_name].in_(list(ids))
        for index in range(start - 1, -1, -1):
            table_name, column_name = hops[index]
            next_table = self._tables[hops[index + 1][0]]
            key = _referenced_key(self._tables[table_name].c[column_name], next_table)
            condition = self._tables[table_name].c[column_name].in_(select(key).where(condition))
        return condition

    def contact_column(self) -> Column[Any] | None:
        """The table's own column holding the contact id (a one-hop path), or None."""
        for hops in self.routes:
            if len(hops) == 1 and hops[0][0] == self.name and self.name != "contacts":
                return self.table.c[hops[0][1]]
        return None

    def rows(self, contact_ids: Sequence[int]) -> Select[Any]:
        """SELECT every column of the contact's rows, in primary-key order."""
        return select(self.table).where(self.belongs_to(contact_ids)).order_by(*self.table.primary_key.columns)

    def scrubbed(self) -> dict[str, Any]:
        """Column -> blank value for the personal columns."""
        return {column.name: scrub_value(column) for column in self.personal}

    def text_columns(self) -> tuple[Column[Any], ...]:
        """Personal columns that can hold strings (text or JSON)."""
        return tuple(c for c in self.personal if _holds_text(c.type) or _holds_json(c.type))


def _referenced_key(column: Column[Any], target: Table) -> Column[Any]:
    for fk in column.foreign_keys:
        if fk.column.table is target:
            return fk.column
    keys = list(target.primary_key.columns)
    if len(keys) != 1:
        raise ValueError(f"{column.table.name}.{column.name} -> {target.name}: no single key to follow")
    return keys[0]


def build_plans(
    records: Mapping[str, RecordTable],
    personal: Iterable[PersonalColumn],
    tables: Mapping[str, Table],
) -> list[TablePlan]:
    """Plans for every record table, deepest path first (the order erasure must go in)."""
    by_table: dict[str, list[Column[Any]]] = {}
    for column in personal:
        if column.subject == "contact":
            by_table.setdefault(column.table, []).append(tables[column.table].c[column.column])
    plans: list[TablePlan] = []
    for name, record in records.items():
        routes = parse_routes(record.path)
        for hops in routes:
            if hops[0][0] != name:
                raise ValueError(f"the path of {name} starts at {hops[0][0]}")
            for table_name, column_name in hops:
                if table_name not in tables or column_name not in tables[table_name].c:
                    raise ValueError(f"the path of {name} names {table_name}.{column_name}, which does not exist")
        plans.append(
            TablePlan(
                table=tables[name],
                routes=routes,
                rule=record.erase,
                personal=tuple(by_table.get(name, ())),
                export=record.export,
                what=record.what,
                merge=record.merge,
                _tables=tables,
            )
        )
    plans.sort(key=lambda p: (-p.depth, p.name))
    return plans


@cache
def default_plans() -> tuple[TablePlan, ...]:
    """The plans of the registry in ``hub.db.personal_data`` over the hub's tables."""
    return tuple(build_plans(record_tables(), PERSONAL, Base.metadata.tables))


def column_of(key: str, tables: Mapping[str, Table]) -> Column[Any]:
    """The column named ``table.column``."""
    table, _, column = key.partition(".")
    return tables[table].c[column]


def tables_reaching(tables: Mapping[str, Table], root: str = "contacts") -> set[str]:
    """Tables whose rows reach ``root`` through foreign keys, directly or through other tables."""
    reaching: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, table in tables.items():
            if name in reaching or name == root:
                continue
            targets = {fk.column.table.name for fk in table.foreign_keys}
            if root in targets or targets & reaching:
                reaching.add(name)
                changed = True
    return reaching
