"""a name a party proposed for themselves, waiting for the mediator

Revision ID: relay_proposed_name
Revises: auth_mediator_lines
Create Date: 2026-12-04 16:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'relay_proposed_name'
down_revision: Union[str, Sequence[str], None] = 'auth_mediator_lines'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'proposed_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('proposed_name')
