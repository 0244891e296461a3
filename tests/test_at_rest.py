"""With privacy.encryption_key set, what a person wrote or is lies sealed in the database:
message text and subject, intake answers, names, a signature's text, name, IP address and
browser, raw mail and files. The program reads them as ever; `mediate db rotate-key` seals
everything again with a new key, after which the old one is not needed."""

from __future__ import annotations

import pytest
from conftest import make_settings
from record_scenario import ANNA_WROTE, BRAM, INTAKE, NAMES, play_case
from sqlalchemy import text
from sqlmodel import Session, select

from mediate import cli
from mediate.rotate import rotate
from mediate.service import Service, at_rest_key, prepare_database
from threads.crypto import SealError, new_key, unseal
from threads.models import InboundMail, IntakeAnswer, Message, Participant, Signature

# (table, column) holding personal text, and what a party put there in the played case
PERSONAL = [("participant", "name"), ("message", "text"), ("message", "subject"),
            ("intakeanswer", "value"), ("signature", "typed_name"), ("signature", "ip"),
            ("signature", "user_agent"), ("signature", "text")]
WRITTEN = [ANNA_WROTE, NAMES[BRAM], INTAKE[BRAM], "192.0.2.7"]  # the scenario signs from there


def stored_values(engine) -> list[str]:
    """The personal columns as the database holds them, bypassing the model."""
    with engine.connect() as connection:
        return [str(value) for table, column in PERSONAL
                for (value,) in connection.execute(text(f"SELECT {column} FROM {table}"))
                if value not in (None, "")]


@pytest.fixture
async def sealed(tmp_path, database_url, sink):
    key = new_key()
    settings = make_settings(
        tmp_path, database_url, privacy={"encryption_key": key},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port})
    service = Service.build(settings)
    await service.start()
    played = await play_case(service)
    await service.stop()
    yield service, played, key
    service.engine.dispose()


async def test_personal_columns_are_sealed_and_read_as_written(sealed):
    service, played, _ = sealed
    values = stored_values(service.engine)
    assert values and all(v.startswith("MEDIATE-SEALED-1:") or v.startswith('"MEDIATE-SEALED-1:')
                          for v in values)
    assert not any(secret in v for v in values for secret in WRITTEN)
    with Session(service.engine) as session:  # the program sees what was written
        assert played.party(session, BRAM).name == NAMES[BRAM]
        assert any(m.text == ANNA_WROTE for m in session.exec(select(Message)))
        bram = played.party(session, BRAM)
        assert INTAKE[BRAM] in [a.value for a in session.exec(
            select(IntakeAnswer).where(IntakeAnswer.participant_id == bram.id))]
        assert {s.ip for s in session.exec(select(Signature))} == {"192.0.2.7"}


async def test_rotate_key_seals_everything_with_the_new_key(sealed, tmp_path):
    service, played, old = sealed
    new = new_key()
    both = service.settings.model_copy(update={"privacy": service.settings.privacy.model_copy(
        update={"encryption_key": f"{new},{old}"})})
    done = rotate(prepare_database(both), at_rest_key(both))
    assert done["participant"] >= 4 and done["inboundmail"] >= 1
    alone = both.model_copy(update={"privacy": both.privacy.model_copy(
        update={"encryption_key": new})})
    engine = prepare_database(alone)  # only the new key from here on
    try:
        with Session(engine) as session:
            assert played.party(session, BRAM).name == NAMES[BRAM]
            assert any(m.text == ANNA_WROTE for m in session.exec(select(Message)))
            raws = [unseal(row.raw, at_rest_key(alone))
                    for row in session.exec(select(InboundMail))]
            assert any(ANNA_WROTE.encode() in raw for raw in raws)
        old_only = both.model_copy(update={"privacy": both.privacy.model_copy(
            update={"encryption_key": old})})
        stale = prepare_database(old_only)
        with Session(stale) as session, pytest.raises(SealError):
            session.exec(select(Participant)).all()
        stale.dispose()
    finally:
        engine.dispose()


def test_rotate_key_without_a_key_says_what_to_do(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[service]\nsecret_key = "k-0123456789-0123456789-0123456789"\n'
                      '[[mediators]]\nemail = "m@office.test"\nname = "M"\n')
    assert cli.main(["--config", str(config), "db", "rotate-key"]) == 1
    assert "privacy.encryption_key is not set" in capsys.readouterr().err


def test_rotate_key_knows_every_sealed_column():
    from sqlmodel import SQLModel

    from mediate.rotate import SEALED_COLUMNS
    from threads.sealed import SealedJSON, SealedText

    sealed = {(table.name, column.name) for table in SQLModel.metadata.sorted_tables
              for column in table.columns if isinstance(column.type, SealedText | SealedJSON)}
    listed = {(model.__tablename__, name) for model, _, names in SEALED_COLUMNS for name in names}
    assert sealed == listed
