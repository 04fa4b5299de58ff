"""customer record: lifecycle, owner, merges, tags, notes, attribute definitions, duplicate decisions

Revision ID: crm_2
Revises: routing_1
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.models.base

revision = 'crm_2'
down_revision = 'routing_1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attribute_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('created_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribute_definitions')),
    sa.UniqueConstraint('key', name=op.f('uq_attribute_definitions_key'))
    )
    op.create_table('contact_merges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('survivor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merged_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('moved', sa.JSON(), nullable=False),
    sa.Column('survivor_before', sa.JSON(), nullable=False),
    sa.Column('merged_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('merged_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('unmerged_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unmerged_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['merged_by'], ['users.id'], name=op.f('fk_contact_merges_merged_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_id'], ['contacts.id'], name=op.f('fk_contact_merges_merged_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survivor_id'], ['contacts.id'], name=op.f('fk_contact_merges_survivor_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unmerged_by'], ['users.id'], name=op.f('fk_contact_merges_unmerged_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_merges'))
    )
    with op.batch_alter_table('contact_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_merges_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_merges_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('contact_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_contact_notes_author_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_notes_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_notes'))
    )
    with op.batch_alter_table('contact_notes', schema=None) as batch_op:
        batch_op.create_index('ix_contact_notes_contact', ['contact_id', 'id'], unique=False)

    op.create_table('contact_tags',
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_tags_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_contact_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'tag_id', name=op.f('pk_contact_tags'))
    )
    op.create_table('duplicate_dismissals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('low_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('high_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dismissed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('dismissed_at', hub.db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dismissed_by'], ['users.id'], name=op.f('fk_duplicate_dismissals_dismissed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['high_id'], ['contacts.id'], name=op.f('fk_duplicate_dismissals_high_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['low_id'], ['contacts.id'], name=op.f('fk_duplicate_dismissals_low_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_dismissals')),
    sa.UniqueConstraint('low_id', 'high_id', name=op.f('uq_duplicate_dismissals_low_id_high_id'))
    )
    with op.batch_alter_table('duplicate_dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_dismissals_high_id'), ['high_id'], unique=False)

    # ALTER TABLE ... ADD COLUMN ... REFERENCES on SQLite: batch mode would copy and drop
    # the contacts table, and dropping it with foreign keys on cascades into every table.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE contacts ADD COLUMN lifecycle_stage VARCHAR(32)")
        op.execute("ALTER TABLE contacts ADD COLUMN owner_id INTEGER "
                   "CONSTRAINT fk_contacts_owner_id_users REFERENCES users (id) ON DELETE SET NULL")
        op.execute("ALTER TABLE contacts ADD COLUMN merged_into_id INTEGER "
                   "CONSTRAINT fk_contacts_merged_into_id_contacts REFERENCES contacts (id) ON DELETE SET NULL")
    else:
        op.add_column("contacts", sa.Column("lifecycle_stage", sa.String(length=32), nullable=True))
        op.add_column("contacts", sa.Column("owner_id", sa.BigInteger(), nullable=True))
        op.add_column("contacts", sa.Column("merged_into_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            op.f("fk_contacts_owner_id_users"), "contacts", "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )
        op.create_foreign_key(
            op.f("fk_contacts_merged_into_id_contacts"), "contacts", "contacts", ["merged_into_id"], ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_contacts_merged_into_id"), "contacts", ["merged_into_id"], unique=False)



def downgrade() -> None:
    op.drop_index(op.f("ix_contacts_merged_into_id"), table_name="contacts")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("lifecycle_stage")

    with op.batch_alter_table('duplicate_dismissals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_dismissals_high_id'))

    op.drop_table('duplicate_dismissals')
    op.drop_table('contact_tags')
    with op.batch_alter_table('contact_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_notes_contact')

    op.drop_table('contact_notes')
    with op.batch_alter_table('contact_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_merges_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_contact_merges_merged_id'))

    op.drop_table('contact_merges')
    op.drop_table('attribute_definitions')
