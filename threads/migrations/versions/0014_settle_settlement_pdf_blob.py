"""the settlement's PDF is a stored blob the settlement refers to (purged with the case)

Revision ID: settle_settlement_pdf_blob
Revises: settle_settlements
Create Date: 2026-12-04 22:00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'settle_settlement_pdf_blob'
down_revision: Union[str, Sequence[str], None] = 'settle_settlements'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_settlement_pdf_sha256_blob', 'blob', ['pdf_sha256'],
                                    ['sha256'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_constraint('fk_settlement_pdf_sha256_blob', type_='foreignkey')
