"""Blobs that nothing refers to any more: found before rows go, deleted after (rows in the
transaction, files after commit). Shared by erasure and retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crm_link.record_map import TablePlan, column_of
from hub.db.models import Base, Blob
from hub.db.personal_data import BLOB_REFERENCES

Selector = Callable[[TablePlan], ColumnElement[bool] | None]


def _references(plans: Sequence[TablePlan]) -> list[tuple[TablePlan | None, Any]]:
    by_name = {plan.name: plan for plan in plans}
    return [(by_name.get(key.partition(".")[0]), column_of(key, Base.metadata.tables)) for key in BLOB_REFERENCES]


async def blob_candidates(session: AsyncSession, plans: Sequence[TablePlan], going: Selector) -> list[str]:
    """Digests named by the rows ``going`` selects (the rows about to be deleted)."""
    found: set[str] = set()
    for plan, column in _references(plans):
        condition = going(plan) if plan is not None else None
        if condition is not None:
            found.update(d for d in (await session.scalars(select(column).where(condition))).all() if d)
    return sorted(found)


async def still_referenced(
    session: AsyncSession, plans: Sequence[TablePlan], digests: Sequence[str], *, besides: Selector | None = None
) -> set[str]:
    """Which of ``digests`` some row still names (not counting the rows ``besides`` selects)."""
    referenced: set[str] = set()
    if not digests:
        return referenced
    for plan, column in _references(plans):
        stmt = select(column).where(column.in_(list(digests))).distinct()
        excluded = besides(plan) if besides is not None and plan is not None else None
        if excluded is not None:
            stmt = stmt.where(~excluded)
        referenced.update((await session.scalars(stmt)).all())
    return referenced


async def delete_unreferenced(session: AsyncSession, plans: Sequence[TablePlan], digests: Sequence[str]) -> list[str]:
    """Delete the blob rows no row names any more; their digests, for removing the files after commit."""
    orphans = sorted(set(digests) - await still_referenced(session, plans, digests))
    if orphans:
        await session.execute(delete(Blob).where(Blob.sha256.in_(orphans)).execution_options(synchronize_session=False))
    return orphans
