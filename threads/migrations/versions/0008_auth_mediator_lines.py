"""the mediator's own private line to each party; mail decided once

Revision ID: auth_mediator_lines
Revises: relay_bounce_episodes

A party's private line (``private_token``) was also the address the mediator wrote to the
party from, so a party knew the one address at which mail was taken as the mediator's. The
mediator now has a line of their own per party (``mediator_token``), which only ever appears
in mail sent to the mediator. ``maildecision`` remembers each mail decided for a case, so a
redelivered mail (same Message-ID and body) is carried out once.
"""
import secrets
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'auth_mediator_lines'
down_revision: Union[str, Sequence[str], None] = 'relay_bounce_episodes'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def upgrade() -> None:
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mediator_token', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_participant_mediator_token'), ['mediator_token'], unique=True)
    bind = op.get_bind()
    parties = bind.execute(sa.text("SELECT id FROM participant WHERE role = 'party'")).fetchall()
    for (participant_id,) in parties:
        token = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        bind.execute(sa.text("UPDATE participant SET mediator_token = :t WHERE id = :p"),
                     {"t": token, "p": participant_id})
    op.create_table('maildecision',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inboundmail.id'], ),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('maildecision')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_mediator_token'))
        batch_op.drop_column('mediator_token')
