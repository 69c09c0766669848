"""library entries: loop points and sample rate

Revision ID: 7a4c9e2d1f80
Revises: 7a4e1c9d2b60
Create Date: 2026-12-06 09:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a4c9e2d1f80'
down_revision = '7a4e1c9d2b60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('library_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('loop_start_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('loop_end_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('sample_rate', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'loop_inside',
            '(loop_start_s IS NULL) = (loop_end_s IS NULL) AND '
            '(loop_start_s IS NULL OR (0 <= loop_start_s AND loop_start_s < loop_end_s '
            'AND loop_end_s <= duration_s))',
        )


def downgrade():
    with op.batch_alter_table('library_entries', schema=None) as batch_op:
        batch_op.drop_constraint('loop_inside', type_='check')
        batch_op.drop_column('sample_rate')
        batch_op.drop_column('loop_end_s')
        batch_op.drop_column('loop_start_s')
