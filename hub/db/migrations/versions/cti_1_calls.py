"""calls of voice channels and their recordings

Revision ID: cti_1
Revises: crm_3
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = 'cti_1'
down_revision = 'crm_3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider_call_id', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('from_number', sa.String(length=64), nullable=True),
    sa.Column('to_number', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('started_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('queued_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wrap_up_until', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wait_seconds', sa.Integer(), nullable=True),
    sa.Column('talk_seconds', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_calls_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_calls_channel_id_channels')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_calls_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_calls_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_calls_queue_id_queues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('channel_id', 'provider_call_id', name=op.f('uq_calls_channel_id_provider_call_id'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_calls_state_queue', ['state', 'queue_id'], unique=False)

    op.create_table('call_recordings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('call_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('blob_sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('created_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_call_recordings_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_recordings_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_recordings'))
    )
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_recordings_blob_sha256'), ['blob_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_recordings_call_id'), ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_recordings_call_id'))
        batch_op.drop_index(batch_op.f('ix_call_recordings_blob_sha256'))

    op.drop_table('call_recordings')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_state_queue')
        batch_op.drop_index(batch_op.f('ix_calls_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_calls_contact_id'))

    op.drop_table('calls')
