"""stage runs: when a failed attempt left its prompt on a backend it could not reach

Revision ID: e4b7c2d9f1a3
Revises: d8f1b3c5e7a9
Create Date: 2026-12-07 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4b7c2d9f1a3'
down_revision = 'd8f1b3c5e7a9'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('stage_runs', sa.Column('prompt_left_at', sa.DateTime(timezone=True)))
    op.create_index('ix_stage_runs_prompt_left', 'stage_runs', ['backend'],
                    postgresql_where=sa.text('prompt_left_at IS NOT NULL'))


def downgrade():
    op.drop_index('ix_stage_runs_prompt_left', table_name='stage_runs')
    op.drop_column('stage_runs', 'prompt_left_at')
