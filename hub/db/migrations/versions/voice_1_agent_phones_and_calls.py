"""voice: agents' phone numbers / SIP addresses, offers that rang a phone, callers' menu languages

Revision ID: voice_1
Revises: ui_2
Create Date: 2026-12-01 21:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = "voice_1"
down_revision = "ui_2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("agent_phones",
    sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("phone", sa.String(length=32), nullable=True),
    sa.Column("sip", sa.String(length=255), nullable=True),
    sa.Column("updated_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_agent_phones_user_id_users"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_phones"))
    )
    op.create_table("call_rings",
    sa.Column("offer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
    sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("rung_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                            name=op.f("fk_call_rings_conversation_id_conversations"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["offer_id"], ["routing_offers.id"],
                            name=op.f("fk_call_rings_offer_id_routing_offers"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_call_rings"))
    )
    op.create_index(op.f("ix_call_rings_conversation_id"), "call_rings", ["conversation_id"], unique=False)
    op.create_table("call_languages",
    sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("provider_call_id", sa.String(length=200), nullable=False),
    sa.Column("language", sa.String(length=16), nullable=False),
    sa.Column("created_at", hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], name=op.f("fk_call_languages_channel_id_channels"),
                            ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("channel_id", "provider_call_id", name=op.f("pk_call_languages"))
    )


def downgrade() -> None:
    op.drop_table("call_languages")
    op.drop_index(op.f("ix_call_rings_conversation_id"), table_name="call_rings")
    op.drop_table("call_rings")
    op.drop_table("agent_phones")
