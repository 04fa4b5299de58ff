"""web chat visitors and conversation ratings

Revision ID: chat_1
Revises: social_1
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = "chat_1"
down_revision = "social_1"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = hub.db.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webchat_visitors",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("user_id", sa.String(length=250), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("prechat", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("disconnected_at", _TIME, nullable=True),
        sa.Column("agent_read_up_to", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_webchat_visitors_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_webchat_visitors_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_visitors")),
        sa.UniqueConstraint("channel_id", "key", name=op.f("uq_webchat_visitors_channel_id_key")),
    )
    op.create_index(op.f("ix_webchat_visitors_contact_id"), "webchat_visitors", ["contact_id"], unique=False)
    op.create_table(
        "conversation_ratings",
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name=op.f("fk_conversation_ratings_conversation_id_conversations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_ratings")),
    )
    op.create_index("ix_conversation_ratings_created_at", "conversation_ratings", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_conversation_ratings_created_at", table_name="conversation_ratings")
    op.drop_table("conversation_ratings")
    op.drop_index(op.f("ix_webchat_visitors_contact_id"), table_name="webchat_visitors")
    op.drop_table("webchat_visitors")
