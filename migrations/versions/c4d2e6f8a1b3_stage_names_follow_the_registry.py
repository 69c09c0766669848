"""stage names follow the registry: lookup tables instead of CHECKs

Revision ID: c4d2e6f8a1b3
Revises: b3f1c2d4a5e6
Create Date: 2026-12-06 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d2e6f8a1b3'
down_revision = 'b3f1c2d4a5e6'
branch_labels = None
depends_on = None

# The names the CHECKs listed when this migration was written; later names come from the
# registry (migrations/env.py fills the tables after every upgrade).
STAGES = ('keyframe', 'animate', 'interpolate', 'compile', 'mix')
TEMPLATES = {'keyframe': 'keyframe', 'animate': 'animate', 'animate_svd': 'animate',
             'interpolate': 'interpolate'}


def upgrade():
    stage_kinds = op.create_table(
        'stage_kinds', sa.Column('name', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_stage_kinds')))
    workflow_kinds = op.create_table(
        'workflow_kinds', sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['stage'], ['stage_kinds.name'],
                                name=op.f('fk_workflow_kinds_stage_stage_kinds')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_workflow_kinds')))
    op.bulk_insert(stage_kinds, [{'name': n} for n in STAGES])
    op.bulk_insert(workflow_kinds, [{'name': t, 'stage': s} for t, s in TEMPLATES.items()])
    op.drop_constraint(op.f('ck_stage_runs_stage_name'), 'stage_runs', type_='check')
    op.drop_constraint(op.f('ck_workflows_workflow_stage'), 'workflows', type_='check')
    with op.batch_alter_table('stage_runs', schema=None) as batch_op:
        batch_op.alter_column('stage', type_=sa.String(length=32))
        batch_op.create_foreign_key(op.f('fk_stage_runs_stage_stage_kinds'), 'stage_kinds',
                                    ['stage'], ['name'])
        batch_op.drop_index('uq_stage_runs_episode_attempt')
        batch_op.create_index('uq_stage_runs_episode_attempt', ['job_id', 'stage', 'attempt'],
                              unique=True, postgresql_where=sa.text('scene_id IS NULL'))
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.alter_column('stage', type_=sa.String(length=32))
        batch_op.create_foreign_key(op.f('fk_workflows_stage_workflow_kinds'), 'workflow_kinds',
                                    ['stage'], ['name'])


def downgrade():
    stages = ", ".join(f"'{n}'" for n in STAGES)
    templates = ", ".join(f"'{n}'" for n in TEMPLATES)
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_workflows_stage_workflow_kinds'), type_='foreignkey')
        batch_op.alter_column('stage', type_=sa.String(length=16))
    with op.batch_alter_table('stage_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_stage_runs_episode_attempt')
        batch_op.create_index('uq_stage_runs_episode_attempt', ['job_id', 'stage', 'attempt'],
                              unique=True, postgresql_where=sa.text("stage IN ('compile', 'mix')"))
        batch_op.drop_constraint(op.f('fk_stage_runs_stage_stage_kinds'), type_='foreignkey')
        batch_op.alter_column('stage', type_=sa.String(length=16))
    op.create_check_constraint('workflow_stage', 'workflows', f"stage IN ({templates})")
    op.create_check_constraint('stage_name', 'stage_runs', f"stage IN ({stages})")
    op.drop_table('workflow_kinds')
    op.drop_table('stage_kinds')
