"""indexes for a job's and a scene's stage runs, and the newest failures

Revision ID: d5b8e1f3a2c7
Revises: a7e4d2c9f1b6
Create Date: 2026-12-07 16:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5b8e1f3a2c7'
down_revision = 'a7e4d2c9f1b6'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_stage_runs_job_status', 'stage_runs', ['job_id', 'status'], {}),
    ('ix_stage_runs_scene', 'stage_runs', ['scene_id'], {}),
    (
        'ix_stage_runs_failed_recent', 'stage_runs',
        [sa.text('finished_at DESC NULLS LAST'), sa.text('id DESC')],
        {'postgresql_where': sa.text("status = 'failed'")},
    ),
)


def upgrade():
    # Built concurrently: a farm's stage_runs keeps taking writes while they build. An
    # interrupted concurrent build leaves an invalid index behind, so one is dropped first.
    with op.get_context().autocommit_block():
        for name, table, columns, options in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True, **options)


def downgrade():
    with op.get_context().autocommit_block():
        for name, table, _, _ in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
