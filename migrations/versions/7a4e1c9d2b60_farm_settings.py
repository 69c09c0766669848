"""farm settings and their audit

Revision ID: 7a4e1c9d2b60
Revises: a7c3e5f9d1b2
Create Date: 2026-12-06 09:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '7a4e1c9d2b60'
down_revision = 'a7c3e5f9d1b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'farm_settings',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_by', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_farm_settings_updated_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_farm_settings')),
    )
    op.create_table(
        'setting_changes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('old_value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('new_value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('actor_id', sa.BigInteger(), nullable=True),
        sa.Column('actor', sa.String(length=254), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_setting_changes_actor_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setting_changes')),
    )
    op.create_index(op.f('ix_setting_changes_name'), 'setting_changes', ['name'], unique=False)
    op.create_index(op.f('ix_setting_changes_changed_at'), 'setting_changes', ['changed_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_setting_changes_changed_at'), table_name='setting_changes')
    op.drop_index(op.f('ix_setting_changes_name'), table_name='setting_changes')
    op.drop_table('setting_changes')
    op.drop_table('farm_settings')
