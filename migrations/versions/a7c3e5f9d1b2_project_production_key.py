"""project production key: a production file's `key:`, unique per owner

Revision ID: a7c3e5f9d1b2
Revises: 3c1f6e2a9b47
Create Date: 2026-12-06 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e5f9d1b2'
down_revision = '3c1f6e2a9b47'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('production_key', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(
            'uq_projects_owner_production_key', ['owner_id', 'production_key']
        )


def downgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint('uq_projects_owner_production_key', type_='unique')
        batch_op.drop_column('production_key')
