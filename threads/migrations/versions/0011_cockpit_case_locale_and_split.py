"""a case's own time zone, form of address and VAT; each party's share of the costs

Revision ID: cockpit_case_locale_and_split
Revises: tone_message_tone
Create Date: 2026-12-04 17:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'cockpit_case_locale_and_split'
down_revision: Union[str, Sequence[str], None] = 'tone_message_tone'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'timezone', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True))
        batch_op.add_column(sa.Column(
            'address', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))
        batch_op.add_column(sa.Column(
            'vat_percent', sa.Float(), nullable=False, server_default='0'))
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_share', sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('cost_share')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('vat_percent')
        batch_op.drop_column('address')
        batch_op.drop_column('timezone')
