"""saved inbox views per user

Revision ID: ui_1
Revises: cti_1
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = "ui_1"
down_revision = "cti_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_saved_views",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ui_saved_views_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_saved_views")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_ui_saved_views_user_id_name")),
    )
    with op.batch_alter_table("ui_saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ui_saved_views_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ui_saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ui_saved_views_user_id"))
    op.drop_table("ui_saved_views")
