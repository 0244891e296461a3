"""the mediator's wording offered to the author first; moderation per party

Revision ID: relay_suggestions_moderation
Revises: 0008
Create Date: 2026-12-04 16:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'relay_suggestions_moderation'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'moderation', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('moderation')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('suggested_text')
