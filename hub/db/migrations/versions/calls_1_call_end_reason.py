"""calls: why the hub ended a call itself (``end_reason``: ``stale``, by the call sweeper)

Revision ID: calls_1
Revises: search_1
Create Date: 2026-12-02 01:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "calls_1"
down_revision = "search_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("end_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("end_reason")
