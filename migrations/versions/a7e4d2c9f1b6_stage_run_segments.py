"""stage run segments: a long scene's stage may render as consecutive segments

Revision ID: a7e4d2c9f1b6
Revises: f3a9c1e7b2d4
Create Date: 2026-12-06 09:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e4d2c9f1b6'
down_revision = 'f3a9c1e7b2d4'
branch_labels = None
depends_on = None


def _unique(columns):
    op.drop_index('uq_stage_runs_scene_attempt', table_name='stage_runs')
    op.create_index(
        'uq_stage_runs_scene_attempt', 'stage_runs', columns, unique=True,
        postgresql_where=sa.text('scene_id IS NOT NULL'),
    )


def upgrade():
    op.add_column(
        'stage_runs', sa.Column('segment', sa.Integer(), server_default='0', nullable=False)
    )
    op.create_check_constraint('segment_non_negative', 'stage_runs', 'segment >= 0')
    _unique(['job_id', 'stage', 'scene_id', 'segment', 'attempt'])


def downgrade():
    op.execute('DELETE FROM stage_runs WHERE segment > 0')
    _unique(['job_id', 'stage', 'scene_id', 'attempt'])
    op.drop_constraint(op.f('ck_stage_runs_segment_non_negative'), 'stage_runs', type_='check')
    op.drop_column('stage_runs', 'segment')
