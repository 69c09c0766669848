"""indexes for a job's and a scene's stage runs

Revision ID: d5b8e1f3a2c7
Revises: a7e4d2c9f1b6
Create Date: 2026-12-07 16:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd5b8e1f3a2c7'
down_revision = 'a7e4d2c9f1b6'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_stage_runs_job_status', 'stage_runs', ['job_id', 'status']),
    ('ix_stage_runs_scene', 'stage_runs', ['scene_id']),
)


def upgrade():
    # Built concurrently: a farm's stage_runs keeps taking writes while they build. An
    # interrupted concurrent build leaves an invalid index behind, so one is dropped first.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        for name, table, _ in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
