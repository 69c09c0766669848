"""job retries: each retry of a job, counted against a guest's hourly quota

Revision ID: d8f1b3c5e7a9
Revises: c7e2a9f4b1d8
Create Date: 2026-12-07 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8f1b3c5e7a9'
down_revision = 'c7e2a9f4b1d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_retries',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('job_id', sa.BigInteger(), nullable=False),
        sa.Column('owner_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_retries_job_id_jobs'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'],
                                name=op.f('fk_job_retries_owner_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_retries')),
    )
    op.create_index(op.f('ix_job_retries_job_id'), 'job_retries', ['job_id'])
    op.create_index('ix_job_retries_owner_created', 'job_retries', ['owner_id', 'created_at'])


def downgrade():
    op.drop_index('ix_job_retries_owner_created', table_name='job_retries')
    op.drop_index(op.f('ix_job_retries_job_id'), table_name='job_retries')
    op.drop_table('job_retries')
