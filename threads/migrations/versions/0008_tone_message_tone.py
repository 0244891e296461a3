"""tone of a message and the acknowledgement of its safety alert

Revision ID: tone_message_tone
Revises: net_sealed_columns
Create Date: 2026-12-04 17:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'tone_message_tone'
down_revision: Union[str, Sequence[str], None] = 'net_sealed_columns'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('message') as batch:
        batch.add_column(sa.Column('tone', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('tone_ack_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('message') as batch:
        batch.drop_column('tone_ack_at')
        batch.drop_column('tone')
