"""a bounce that came back keeps the delivery failure episode open until the party writes

Revision ID: relay_bounce_episodes
Revises: relay_suggestions_moderation
Create Date: 2026-12-04 16:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'relay_bounce_episodes'
down_revision: Union[str, Sequence[str], None] = 'relay_suggestions_moderation'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'bounce_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('bounce_seen_at')
