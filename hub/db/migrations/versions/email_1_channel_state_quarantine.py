"""email channel: per-channel adapter state, the quarantine, message quote/auto markers

Revision ID: email_1
Revises: social_2
Create Date: 2026-12-01 18:20:00.020712
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = "email_1"
down_revision = "social_2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("channel_state",
    sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("key", sa.String(length=200), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("updated_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], name=op.f("fk_channel_state_channel_id_channels"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("channel_id", "key", name=op.f("pk_channel_state"))
    )
    op.create_table("quarantine",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("reason", sa.String(length=64), nullable=False),
    sa.Column("detail", sa.String(length=1000), nullable=False),
    sa.Column("source", sa.String(length=300), nullable=True),
    sa.Column("blob_sha256", sa.String(length=64), nullable=True),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("sender", sa.String(length=320), nullable=True),
    sa.Column("contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    sa.Column("subject", sa.String(length=500), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    sa.Column("created_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["blob_sha256"], ["blobs.sha256"], name=op.f("fk_quarantine_blob_sha256_blobs")),
    sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], name=op.f("fk_quarantine_channel_id_channels"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_quarantine_contact_id_contacts"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_quarantine_message_id_messages"), ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine"))
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_blob_sha256"), ["blob_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_quarantine_channel_state", ["channel_id", "state", "id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quote_start", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("auto_submitted", sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("auto_submitted")
        batch_op.drop_column("quote_start")

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_channel_state")
        batch_op.drop_index(batch_op.f("ix_quarantine_blob_sha256"))
        batch_op.drop_index(batch_op.f("ix_quarantine_contact_id"))

    op.drop_table("quarantine")
    op.drop_table("channel_state")
