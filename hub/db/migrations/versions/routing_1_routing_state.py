"""routing state

Revision ID: routing_1
Revises: email_1
Create Date: 2026-12-01 18:23:40.136150
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = 'routing_1'
down_revision = "email_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_leases',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('expires_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_routing_leases'))
    )
    op.create_table('routing_outcomes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('media', sa.String(length=16), nullable=True),
    sa.Column('occurred_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('wait_seconds', sa.Double(), nullable=True),
    sa.Column('handle_seconds', sa.Double(), nullable=True),
    sa.Column('within_target', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_outcomes'))
    )
    with op.batch_alter_table('routing_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_routing_outcomes_at', ['occurred_at', 'queue_id'], unique=False)

    op.create_table('routing_agents',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('presence', sa.String(length=16), nullable=False),
    sa.Column('presence_changed_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('presence_reason', sa.String(length=32), nullable=True),
    sa.Column('last_routed_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('missed_offers', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.JSON(), nullable=True),
    sa.Column('updated_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_routing_agents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_routing_agents'))
    )
    op.create_table('routing_entries',
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('media', sa.String(length=16), nullable=False),
    sa.Column('realtime', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('since', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entered_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('assigned_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_routing_entries_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_routing_entries_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_routing_entries_queue_id_queues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_routing_entries'))
    )
    with op.batch_alter_table('routing_entries', schema=None) as batch_op:
        batch_op.create_index('ix_routing_entries_agent', ['agent_id'], unique=False)
        batch_op.create_index('ix_routing_entries_queue_state', ['queue_id', 'state'], unique=False)

    op.create_table('routing_offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('offered_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_routing_offers_agent_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_routing_offers_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_routing_offers_queue_id_queues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_offers'))
    )
    with op.batch_alter_table('routing_offers', schema=None) as batch_op:
        batch_op.create_index('ix_routing_offers_agent_state', ['agent_id', 'state'], unique=False)
        batch_op.create_index('uq_routing_offers_pending', ['conversation_id'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    op.create_table('routing_sla',
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('policy', sa.String(length=100), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('running', sa.Boolean(), nullable=False),
    sa.Column('goal_seconds', sa.Double(), nullable=False),
    sa.Column('elapsed_seconds', sa.Double(), nullable=False),
    sa.Column('due_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('met_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cycle_started_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warned', sa.Boolean(), nullable=False),
    sa.Column('breached', sa.Boolean(), nullable=False),
    sa.Column('updated_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_routing_sla_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'target', name=op.f('pk_routing_sla'))
    )
    with op.batch_alter_table('routing_sla', schema=None) as batch_op:
        batch_op.create_index('ix_routing_sla_due', ['running', 'due_at'], unique=False)
        batch_op.create_index('ix_routing_sla_queue_state', ['queue_id', 'state'], unique=False)

    op.create_table('routing_queue_stats',
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('computed_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_routing_queue_stats_queue_id_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('queue_id', name=op.f('pk_routing_queue_stats'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_conversation_id', ['conversation_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_conversation_id')

    op.drop_table('routing_queue_stats')
    with op.batch_alter_table('routing_sla', schema=None) as batch_op:
        batch_op.drop_index('ix_routing_sla_queue_state')
        batch_op.drop_index('ix_routing_sla_due')

    op.drop_table('routing_sla')
    with op.batch_alter_table('routing_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_routing_offers_pending', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('ix_routing_offers_agent_state')

    op.drop_table('routing_offers')
    with op.batch_alter_table('routing_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_routing_entries_queue_state')
        batch_op.drop_index('ix_routing_entries_agent')

    op.drop_table('routing_entries')
    op.drop_table('routing_agents')
    with op.batch_alter_table('routing_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_routing_outcomes_at')

    op.drop_table('routing_outcomes')
    op.drop_table('routing_leases')
