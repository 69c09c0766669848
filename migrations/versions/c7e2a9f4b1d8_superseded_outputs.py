"""assets: superseded_at (when a later attempt of the same stage replaced the output), kept
`superseded_output_days` before the hourly clean-up removes it; was expires_at, which nothing set

Revision ID: c7e2a9f4b1d8
Revises: b9d3e5f1a7c4
Create Date: 2026-12-07 18:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e2a9f4b1d8'
down_revision = 'b9d3e5f1a7c4'
branch_labels = None
depends_on = None

INDEX = 'ix_assets_superseded'


def upgrade():
    op.alter_column('assets', 'expires_at', new_column_name='superseded_at')
    # Built concurrently (a farm keeps writing assets); an interrupted build's invalid index is
    # dropped first. Partial: only superseded outputs, a small share of all.
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name='assets', postgresql_concurrently=True, if_exists=True)
        op.create_index(
            INDEX, 'assets', ['superseded_at'], postgresql_concurrently=True,
            postgresql_where=sa.text('superseded_at IS NOT NULL'),
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name='assets', postgresql_concurrently=True, if_exists=True)
    op.alter_column('assets', 'superseded_at', new_column_name='expires_at')
