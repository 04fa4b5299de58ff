"""canned responses

Revision ID: uiwall_1
Revises: ui_1
Create Date: 2026-12-01 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = "uiwall_1"
down_revision = "ui_1"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shortcut", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("bodies", sa.JSON(), nullable=False),
        sa.Column("queue_id", _ID, nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("updated_by", _ID, nullable=True),
        sa.Column("created_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_canned_responses_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_canned_responses_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_canned_responses_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_canned_responses_shortcut")),
    )
    op.create_index("ix_canned_responses_queue", "canned_responses", ["queue_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_canned_responses_queue", table_name="canned_responses")
    op.drop_table("canned_responses")
