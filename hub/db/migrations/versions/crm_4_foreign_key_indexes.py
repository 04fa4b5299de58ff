"""indexes on the foreign keys that deleting a message, conversation or identity follows

Retention deletes conversations and their messages, erasure deletes identities; the
database then sets the referring columns to NULL (or deletes the referring rows).
Without an index on the referring column every deleted row scans that whole table:
with a million timeline entries, deleting 1,000 messages took minutes.

Revision ID: crm_4
Revises: uiwall_1
"""

from __future__ import annotations

from alembic import op

revision = "crm_4"
down_revision = "uiwall_1"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_timeline_entries_message_id", "timeline_entries", "message_id"),
    ("ix_timeline_entries_conversation_id", "timeline_entries", "conversation_id"),
    ("ix_conversations_identity_id", "conversations", "identity_id"),
    ("ix_routing_offers_conversation_id", "routing_offers", "conversation_id"),
    ("ix_quarantine_message_id", "quarantine", "message_id"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
