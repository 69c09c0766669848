"""echo brain: suggestions as asked and answered, scene dialogue, character voices, subtitles

Revision ID: f1e2c3b4a5d6
Revises: 7a4c9e2d1f80
Create Date: 2026-12-06 09:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'f1e2c3b4a5d6'
down_revision = '7a4c9e2d1f80'
branch_labels = None
depends_on = None

FEATURES = ('enhance_prompt', 'scenes', 'dialogue', 'continuation', 'brainstorm', 'analysis')
ASSET_KINDS = ('image', 'video', 'frames', 'audio', 'episode', 'report')


def asset_kind_check(kinds):
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.drop_constraint(op.f('ck_assets_asset_kind'), 'assets', type_='check')
    op.create_check_constraint(op.f('ck_assets_asset_kind'), 'assets', f"kind IN ({listed})")


def upgrade():
    # The table was never written to: rebuild it in its new shape.
    op.drop_table('suggestions')
    op.create_table('suggestions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=True),
    sa.Column('episode_id', sa.BigInteger(), nullable=True),
    sa.Column('scene_id', sa.BigInteger(), nullable=True),
    sa.Column('feature', sa.Enum(*FEATURES, name='echo_feature', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('input', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('output', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('latency_ms >= 0', name=op.f('ck_suggestions_latency_non_negative')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_suggestions_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_suggestions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_suggestions_episode_id_episodes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scene_id'], ['scenes.id'], name=op.f('fk_suggestions_scene_id_scenes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_project_id'), ['project_id'], unique=False)
    with op.batch_alter_table('scenes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dialogue', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice', sa.String(length=100), server_default='', nullable=False))
    asset_kind_check(ASSET_KINDS + ('subtitles',))


def downgrade():
    op.execute("DELETE FROM assets WHERE kind = 'subtitles'")
    asset_kind_check(ASSET_KINDS)
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.drop_column('voice')
    with op.batch_alter_table('scenes', schema=None) as batch_op:
        batch_op.drop_column('dialogue')
    op.drop_table('suggestions')
    op.create_table('suggestions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('scene_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('accepted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_suggestions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scene_id'], ['scenes.id'], name=op.f('fk_suggestions_scene_id_scenes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_project_id'), ['project_id'], unique=False)
