"""sealed personal columns: no length limits on columns that may hold sealed text

Revision ID: net_sealed_columns
Revises: relay_proposed_name

A sealed value (threads.sealed) is about twice as long as its text, so the personal columns
with a length limit lose it. SQLite does not enforce VARCHAR lengths: only PostgreSQL needs
the change. The values themselves are sealed by `mediate db rotate-key`, not here.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'net_sealed_columns'
down_revision: Union[str, Sequence[str], None] = 'relay_proposed_name'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = [
    ("participant", "name", 200),
    ("message", "subject", 500),
    ("signature", "typed_name", 200),
    ("signature", "ip", 64),
    ("signature", "user_agent", 500),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String())
