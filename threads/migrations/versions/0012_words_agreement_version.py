"""the model agreement a case was opened with: its text stays that version

Revision ID: words_agreement_version
Revises: cool_cooling_off
Create Date: 2026-12-04 21:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'words_agreement_version'
down_revision: Union[str, Sequence[str], None] = 'cool_cooling_off'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema: cases opened before have none (NULL), and keep the first text."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agreement_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('agreement_version')
