"""generated transition: a scene may hand over through a generated bridge

Revision ID: f3a9c1e7b2d4
Revises: f1e2c3b4a5d6
Create Date: 2026-12-06 09:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3a9c1e7b2d4'
down_revision = 'f1e2c3b4a5d6'
branch_labels = None
depends_on = None

BEFORE = ("cut", "crossfade", "fade_black")
AFTER = (*BEFORE, "generated")


def _allow(values):
    listed = ", ".join(f"'{v}'" for v in values)
    op.drop_constraint(op.f('ck_scenes_scene_transition'), 'scenes', type_='check')
    op.create_check_constraint('scene_transition', 'scenes', f"transition IN ({listed})")


def upgrade():
    _allow(AFTER)


def downgrade():
    op.execute("UPDATE scenes SET transition = 'cut' WHERE transition = 'generated'")
    _allow(BEFORE)
