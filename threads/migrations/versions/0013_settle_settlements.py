"""the settlement drafted from the agreed proposals, and the signatures under it

Revision ID: settle_settlements
Revises: settle_proposals
Create Date: 2026-12-04 21:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'settle_settlements'
down_revision: Union[str, Sequence[str], None] = 'settle_proposals'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'settlement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('text', sa.String(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('proposals', sa.JSON(), nullable=False),
        sa.Column('template', sa.String(), nullable=False),
        sa.Column('drafted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('pdf_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id'),
    )
    op.create_table(
        'settlementsignature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('settlement_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('typed_name', sa.String(), nullable=False),
        sa.Column('signed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ip', sa.String(), nullable=False),
        sa.Column('user_agent', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id']),
        sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('participant_id', 'sha256'),
    )
    op.create_index(op.f('ix_settlementsignature_settlement_id'), 'settlementsignature',
                    ['settlement_id'], unique=False)
    op.create_index(op.f('ix_settlementsignature_participant_id'), 'settlementsignature',
                    ['participant_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_settlementsignature_participant_id'),
                  table_name='settlementsignature')
    op.drop_index(op.f('ix_settlementsignature_settlement_id'), table_name='settlementsignature')
    op.drop_table('settlementsignature')
    op.drop_table('settlement')
