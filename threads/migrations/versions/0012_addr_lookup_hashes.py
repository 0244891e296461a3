"""addresses and reply tokens sealed, found by keyed hashes

Revision ID: addr_lookup_hashes
Revises: cockpit_case_locale_and_split

E-mail addresses and reply tokens get a ``*_hash`` column beside them (threads.lookup), filled
here for every existing row with the key of the engine that runs the upgrade (the keyless
derivation when none is set); lookups and uniqueness constraints move to these columns. The
values themselves (and the sender, reasons and relay answers, which may name an address) lose
their length limits, since a sealed value is longer, and are sealed by ``mediate db
rotate-key``, not here: until then they stay as they were, in clear.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

from threads.lookup import Kind, stored_digest
from threads.sealed import engine_key, open_text


revision: str = 'addr_lookup_hashes'
down_revision: Union[str, Sequence[str], None] = 'words_agreement_version'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# table: [(value column, its old length, hash column, kind, nullable)]
HASHED = {
    "participant": [("email", 320, "email_hash", Kind.ADDRESS, False),
                    ("token", 40, "token_hash", Kind.TOKEN, False),
                    ("private_token", 40, "private_token_hash", Kind.TOKEN, True),
                    ("mediator_token", 40, "mediator_token_hash", Kind.TOKEN, True)],
    "participantalias": [("email", 320, "email_hash", Kind.ADDRESS, False)],
    "outgoingmail": [("rcpt_to", 320, "rcpt_hash", Kind.ADDRESS, False)],
    "digestrecord": [("mediator_email", 320, "mediator_hash", Kind.ADDRESS, False)],
}
# table: (old unique columns, new unique columns)
UNIQUE = {
    "participant": (["case_id", "email"], ["case_id", "email_hash"]),
    "participantalias": (["participant_id", "email"], ["participant_id", "email_hash"]),
    "digestrecord": (["mediator_email", "period"], ["mediator_hash", "period"]),
}
OLD_INDEXES = {"participant": [("token", True), ("private_token", True),
                               ("mediator_token", True)]}
NEW_INDEXES = {"participant": [("email_hash", False), ("token_hash", True),
                               ("private_token_hash", True), ("mediator_token_hash", True)],
               "outgoingmail": [("rcpt_hash", False)]}
# sealed, not looked up: the sender, and reasons and relay answers that may name an address
SEALED_TOO = [("inboundmail", "mail_from", 500), ("inboundmail", "reason", 2000),
              ("outgoingmail", "last_error", 2000)]
# SQLite's unique constraints have no names: the batch copy names them by this convention
CONVENTION = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}


def _name(table: str, columns: list[str]) -> str:
    return f"{table}_{'_'.join(columns)}_key"  # PostgreSQL's own name for an unnamed one


def _fill(table: str) -> None:
    bind = op.get_bind()
    key = engine_key(bind.dialect)
    columns = HASHED[table]
    names = ", ".join(value for value, *_ in columns)
    rows = bind.execute(sa.text(f"SELECT id, {names} FROM {table}")).fetchall()
    sets = ", ".join(f"{hashed} = :{hashed}" for _, _, hashed, _, _ in columns)
    update = sa.text(f"UPDATE {table} SET {sets} WHERE id = :id")
    for row in rows:
        values = {"id": row[0]}
        for (_, _, hashed, kind, _), value in zip(columns, row[1:]):
            values[hashed] = None if value is None \
                else stored_digest(bind.dialect, open_text(value, key), kind)
        bind.execute(update, values)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, columns in HASHED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _, _, hashed, _, _ in columns:
                batch_op.add_column(sa.Column(
                    hashed, sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        _fill(table)
        with op.batch_alter_table(table, schema=None, naming_convention=CONVENTION) as batch_op:
            if table in UNIQUE:
                old, new = UNIQUE[table]
                batch_op.drop_constraint(_name(table, old), type_="unique")
            for column, unique in OLD_INDEXES.get(table, []):
                batch_op.drop_index(f"ix_{table}_{column}")
            for value, length, hashed, _, nullable in columns:
                batch_op.alter_column(hashed, nullable=nullable,
                                      existing_type=sqlmodel.sql.sqltypes.AutoString(length=64))
                if postgresql:
                    batch_op.alter_column(value, type_=sa.String(),
                                          existing_type=sa.String(length))
            if table in UNIQUE:
                batch_op.create_unique_constraint(_name(table, new), new)
            for column, unique in NEW_INDEXES.get(table, []):
                batch_op.create_index(f"ix_{table}_{column}", [column], unique=unique)
    if postgresql:
        for table, column, length in SEALED_TOO:
            op.alter_column(table, column, type_=sa.String(), existing_type=sa.String(length))


def downgrade() -> None:
    """Back to addresses and tokens found by their value: only for values still in clear
    (run ``mediate db rotate-key`` with the key removed from the setting first)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table, column, length in SEALED_TOO:
            op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String())
    for table, columns in HASHED.items():
        with op.batch_alter_table(table, schema=None, naming_convention=CONVENTION) as batch_op:
            for column, unique in NEW_INDEXES.get(table, []):
                batch_op.drop_index(f"ix_{table}_{column}")
            if table in UNIQUE:
                old, new = UNIQUE[table]
                batch_op.drop_constraint(_name(table, new), type_="unique")
            for value, length, hashed, _, _ in columns:
                if postgresql:
                    batch_op.alter_column(value, type_=sa.String(length),
                                          existing_type=sa.String())
                batch_op.drop_column(hashed)
            for column, unique in OLD_INDEXES.get(table, []):
                batch_op.create_index(f"ix_{table}_{column}", [column], unique=unique)
            if table in UNIQUE:
                batch_op.create_unique_constraint(_name(table, old), old)
