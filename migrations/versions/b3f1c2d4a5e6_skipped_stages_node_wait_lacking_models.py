"""skipped stages, node-wait deadline, models a node lacks

Revision ID: b3f1c2d4a5e6
Revises: e8d0989c58f5
Create Date: 2026-12-06 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'b3f1c2d4a5e6'
down_revision = 'e8d0989c58f5'
branch_labels = None
depends_on = None

OLD_STATUSES = ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')
NEW_STATUSES = (*OLD_STATUSES, 'skipped')


def _status_check(values):
    listed = ", ".join(f"'{v}'" for v in values)
    op.drop_constraint(op.f('ck_stage_runs_stage_status'), 'stage_runs', type_='check')
    op.create_check_constraint('stage_status', 'stage_runs', f"status IN ({listed})")


def upgrade():
    _status_check(NEW_STATUSES)
    with op.batch_alter_table('stage_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('worker_nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lacking_models', postgresql.JSONB(astext_type=sa.Text()),
                                      server_default='{}', nullable=False))


def downgrade():
    with op.batch_alter_table('worker_nodes', schema=None) as batch_op:
        batch_op.drop_column('lacking_models')
    with op.batch_alter_table('stage_runs', schema=None) as batch_op:
        batch_op.drop_column('waiting_since')
    op.execute("UPDATE stage_runs SET status = 'cancelled' WHERE status = 'skipped'")
    _status_check(OLD_STATUSES)
