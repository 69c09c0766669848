"""stage totals: finished runs folded into /metrics' totals as they end

Revision ID: e6c9a3d1f7b2
Revises: d5b8e1f3a2c7
Create Date: 2026-12-07 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'e6c9a3d1f7b2'
down_revision = 'd5b8e1f3a2c7'
branch_labels = None
depends_on = None

FINISHED = "('succeeded', 'failed')"


def upgrade():
    op.create_table(
        'stage_finishes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('run_id', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_finishes')),
    )
    op.create_table(
        'stage_duration_totals',
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('buckets', postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.PrimaryKeyConstraint('stage', 'status', name=op.f('pk_stage_duration_totals')),
    )
    op.create_table(
        'comfyui_error_totals',
        sa.Column('error_class', sa.Text(), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('error_class', 'stage', name=op.f('pk_comfyui_error_totals')),
    )
    op.execute(
        """
        CREATE FUNCTION queue_stage_finish() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO stage_finishes (run_id) VALUES (NEW.id);
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER stage_runs_finished_insert AFTER INSERT ON stage_runs FOR EACH ROW
          WHEN (NEW.status IN {FINISHED}) EXECUTE FUNCTION queue_stage_finish()
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER stage_runs_finished_update AFTER UPDATE OF status ON stage_runs
          FOR EACH ROW
          WHEN (NEW.status IN {FINISHED} AND OLD.status IS DISTINCT FROM NEW.status)
          EXECUTE FUNCTION queue_stage_finish()
        """
    )
    # The runs that ended before: the first fold counts them.
    op.execute(
        f"INSERT INTO stage_finishes (run_id) SELECT id FROM stage_runs WHERE status IN {FINISHED}"
    )


def downgrade():
    op.execute('DROP TRIGGER stage_runs_finished_update ON stage_runs')
    op.execute('DROP TRIGGER stage_runs_finished_insert ON stage_runs')
    op.execute('DROP FUNCTION queue_stage_finish()')
    op.drop_table('comfyui_error_totals')
    op.drop_table('stage_duration_totals')
    op.drop_table('stage_finishes')
