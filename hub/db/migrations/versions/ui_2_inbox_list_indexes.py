"""inbox list indexes: assignee, status and queue each with last_message_at

Revision ID: ui_2
Revises: crm_4
"""

from __future__ import annotations

from alembic import op

revision = "ui_2"
down_revision = "crm_4"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_conversations_assignee_last_message": ["assignee_id", "last_message_at"],
    "ix_conversations_status_last_message": ["status", "last_message_at"],
    "ix_conversations_queue_last_message": ["queue_id", "last_message_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
