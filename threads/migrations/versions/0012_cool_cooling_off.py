"""a case's cooling-off setting; when a heated message goes out by itself

Revision ID: cool_cooling_off
Revises: cockpit_case_locale_and_split
Create Date: 2026-12-04 21:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'cool_cooling_off'
down_revision: Union[str, Sequence[str], None] = 'i18n_attachment_reason_keys'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cooling_off_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'release_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    release_at = sa.column('release_at')
    op.create_index('ix_message_release_at', 'message', ['release_at'], unique=False,
                    sqlite_where=release_at.is_not(None),
                    postgresql_where=release_at.is_not(None))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_message_release_at', table_name='message')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('release_at')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('cooling_off_minutes')
