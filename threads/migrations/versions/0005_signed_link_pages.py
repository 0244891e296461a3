"""signed-link pages: intake answers, signatures, custom agreements, safety alerts, link versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'caseagreement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id'),
    )
    op.create_table(
        'intakeanswer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('question_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('value', sa.JSON(), nullable=True),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('participant_id', 'question_id'),
    )
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intakeanswer_participant_id'), ['participant_id'], unique=False)
    op.create_table(
        'safetyalert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('participant_id', 'question_id'),
    )
    with op.batch_alter_table('safetyalert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safetyalert_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_safetyalert_participant_id'), ['participant_id'], unique=False)
    op.create_table(
        'signature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('typed_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column('signed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('participant_id', 'sha256'),
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_participant_id'), ['participant_id'], unique=False)
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('link_version')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_participant_id'))
        batch_op.drop_index(batch_op.f('ix_signature_case_id'))
    op.drop_table('signature')
    with op.batch_alter_table('safetyalert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_safetyalert_participant_id'))
        batch_op.drop_index(batch_op.f('ix_safetyalert_case_id'))
    op.drop_table('safetyalert')
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intakeanswer_participant_id'))
    op.drop_table('intakeanswer')
    op.drop_table('caseagreement')
