"""proposals put to the parties, and each party's answer

Revision ID: settle_proposals
Revises: cockpit_case_locale_and_split
Create Date: 2026-12-04 21:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'settle_proposals'
down_revision: Union[str, Sequence[str], None] = 'addr_lookup_hashes'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'proposal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('withdrawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id', 'number'),
    )
    op.create_index(op.f('ix_proposal_case_id'), 'proposal', ['case_id'], unique=False)
    op.create_table(
        'proposalparty',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column('comment', sa.String(), nullable=False),
        sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id']),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('proposal_id', 'participant_id'),
    )
    op.create_index(op.f('ix_proposalparty_proposal_id'), 'proposalparty', ['proposal_id'],
                    unique=False)
    op.create_index(op.f('ix_proposalparty_participant_id'), 'proposalparty',
                    ['participant_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_proposalparty_participant_id'), table_name='proposalparty')
    op.drop_index(op.f('ix_proposalparty_proposal_id'), table_name='proposalparty')
    op.drop_table('proposalparty')
    op.drop_index(op.f('ix_proposal_case_id'), table_name='proposal')
    op.drop_table('proposal')
