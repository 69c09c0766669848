"""indexes for the foreign keys a delete looks up: an episode's jobs, the characters whose
reference sheet an asset is, a character's scenes, an episode's and a scene's suggestions

Revision ID: b9d3e5f1a7c4
Revises: e6c9a3d1f7b2
Create Date: 2026-12-07 18:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b9d3e5f1a7c4'
down_revision = 'e6c9a3d1f7b2'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_jobs_episode_id', 'jobs', ['episode_id']),
    ('ix_characters_reference_asset_id', 'characters', ['reference_asset_id']),
    ('ix_scene_characters_character_id', 'scene_characters', ['character_id']),
    ('ix_suggestions_episode_id', 'suggestions', ['episode_id']),
    ('ix_suggestions_scene_id', 'suggestions', ['scene_id']),
)


def upgrade():
    # Built concurrently, as the stage runs' indexes are; an interrupted build's invalid index
    # is dropped first.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        for name, table, _ in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
