"""caucus, mediator commands and aliases

Private lines per party, time entries for costs, accepted extra addresses, thread roots per
channel (replacing Participant.thread_root), and the case's rate and fee fixed at opening.

Revision ID: 0002
Revises: 0001
"""
import secrets
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def upgrade() -> None:
    op.create_table('timeentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timeentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeentry_case_id'), ['case_id'], unique=False)

    op.create_table('participantalias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('participant_id', 'email')
    )
    with op.batch_alter_table('participantalias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participantalias_participant_id'), ['participant_id'], unique=False)

    op.create_table('threadroot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('participant_id', 'channel')
    )
    with op.batch_alter_table('threadroot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_threadroot_participant_id'), ['participant_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column('hourly_rate', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('platform_fee', sa.Float(), nullable=False, server_default='0'))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counterpart_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_message_counterpart_id_participant', 'participant', ['counterpart_id'], ['id'])

    with op.batch_alter_table('outgoingmail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False, server_default='shared'))

    # Existing thread roots move to the per-channel table before the column goes.
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, thread_root FROM participant WHERE thread_root IS NOT NULL")).fetchall()
    for participant_id, root in rows:
        bind.execute(sa.text("INSERT INTO threadroot (participant_id, channel, message_id) "
                             "VALUES (:p, 'shared', :m)"), {"p": participant_id, "m": root})

    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private_token', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_participant_private_token'), ['private_token'], unique=True)
        batch_op.drop_column('thread_root')

    # Every existing party gets a private line too.
    parties = bind.execute(sa.text("SELECT id FROM participant WHERE role = 'party'")).fetchall()
    for (participant_id,) in parties:
        token = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        bind.execute(sa.text("UPDATE participant SET private_token = :t WHERE id = :p"),
                     {"t": token, "p": participant_id})


def downgrade() -> None:
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread_root', sa.VARCHAR(length=250), nullable=True))
        batch_op.drop_index(batch_op.f('ix_participant_private_token'))
        batch_op.drop_column('private_token')
    with op.batch_alter_table('outgoingmail', schema=None) as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint('fk_message_counterpart_id_participant', type_='foreignkey')
        batch_op.drop_column('counterpart_id')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('platform_fee')
        batch_op.drop_column('hourly_rate')
        batch_op.drop_column('close_note')
    op.drop_table('threadroot')
    op.drop_table('participantalias')
    op.drop_table('timeentry')
