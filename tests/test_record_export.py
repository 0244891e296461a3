"""The case file: a realistic case exported file by file, verified, and tampering detected."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import mailbox
import zipfile
from pathlib import Path

import pytest
from conftest import MEDIATOR
from record_scenario import (
    AGREEMENT,
    ANNA,
    ANNA_RELEASED,
    ANNA_WROTE,
    BRAM,
    BRAM_PRIVATE,
    CEES,
    CEES_WROTE,
    INTAKE,
    MEDIATOR_PRIVATE,
    MEDIATOR_SHARED,
    PDF,
    play_case,
)
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from mediate import cli
from mediate.export import build_case_archive, build_party_archive, verify_archive
from threads import audit
from threads.db import session_scope
from threads.models import AuditEvent, CaseExport, InboundMail, OutgoingMail


@pytest.fixture
async def played(service, sink):
    return await play_case(service)


def export(service, played) -> bytes:
    with session_scope(service.engine) as session:
        case = played.case(session)
        return build_case_archive(session, case, None, service.settings.templates_dir).data


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(data: bytes, name: str, change) -> bytes:  # noqa: ANN001
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            content = old.read(info.filename)
            new.writestr(info.filename, change(content) if info.filename == name else content)
    return out.getvalue()


def flip(content: bytes) -> bytes:
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0x01]) + content[middle + 1:]


async def test_the_case_archive_holds_the_whole_case_file_by_file(service, played):
    files = members(export(service, played))
    assert set(files) == {
        "transcript.html", "messages.mbox", "attachments/0002-1-inventory.pdf",
        "intake/0002-anna-jansen.json", "intake/0003-bram-de-boer.json",
        "intake/0004-cees-ünal.json", f"agreement/signed-{sha(AGREEMENT)[:16]}.txt",
        "agreement/signatures.json", "costs.csv", "audit.jsonl", "manifest.json",
    }
    page = files["transcript.html"].decode()
    # every message in order; Anna's own words escaped, and the edited version passed on
    order = [MEDIATOR_SHARED, "I would like to keep the sofa &amp; the &lt;old&gt; lamp.",
             ANNA_RELEASED, BRAM_PRIVATE, MEDIATOR_PRIVATE, CEES_WROTE]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert "<old>" not in page
    assert "The mediator passed on an edited version" in page
    assert page.count("Private, between the mediator and Bram de Boer") == 2
    assert "Not passed on" in page and "settled (agreement reached)" in page
    assert 'href="attachments/0002-1-inventory.pdf"' in page
    assert ANNA not in page and BRAM not in page  # names, never addresses

    assert files["attachments/0002-1-inventory.pdf"] == PDF
    bram = json.loads(files["intake/0003-bram-de-boer.json"])
    assert bram["participant"] == "Bram de Boer"
    assert bram["answers"][0]["question"] == "background"
    assert bram["answers"][0]["value"] == INTAKE[BRAM]
    assert files[f"agreement/signed-{sha(AGREEMENT)[:16]}.txt"] == AGREEMENT.encode()
    signatures = json.loads(files["agreement/signatures.json"])
    assert [s["participant"] for s in signatures] == ["Anna Jansen", "Bram de Boer", "Cees Ünal"]
    assert all(s["text_matches"] and s["text_sha256"] == sha(AGREEMENT) for s in signatures)

    with Session(service.engine) as session:
        case = played.case(session)
        inbound = session.exec(select(InboundMail).where(InboundMail.case_id == case.id)).all()
        outgoing = session.exec(select(OutgoingMail).where(OutgoingMail.case_id == case.id)).all()
        events = audit.events_of(session, case)
    box = tmp_mbox(files["messages.mbox"])
    ids = sorted(m["Message-ID"] for m in box)
    assert ids == sorted([r.message_id for r in inbound] + [r.message_id for r in outgoing])
    assert any(ANNA_WROTE in m.get_payload(0).get_payload(decode=True).decode()
               for m in box if m.is_multipart())

    rows = list(csv.reader(io.StringIO(files["costs.csv"].decode())))
    assert rows[0] == ["date", "item", "minutes", "rate_per_hour", "amount"]
    assert rows[1][1:] == ["reading the inventory", "90", "100.00", "150.00"]
    assert rows[-1][1:] == ["total", "90", "100.00", "150.00"]

    chain = [json.loads(line) for line in files["audit.jsonl"].decode().splitlines()]
    assert [r["hash"] for r in chain] == [e.hash for e in events[:-1]]
    assert events[-1].kind == "export"  # recorded once the archive was made
    kinds = {r["kind"] for r in chain}
    assert {"case-opened", "invitation-sent", "mediator-message", "held", "released",
            "private-message", "rejected", "command", "time", "closed",
            "agreement-signed"} <= kinds
    assert audit.verify_rows(chain) is None

    manifest = json.loads(files["manifest.json"])
    assert manifest["case"] == played.ref and manifest["kind"] == "case"
    assert manifest["audit"]["final_hash"] == chain[-1]["hash"]
    for name, content in files.items():
        if name != "manifest.json":
            assert manifest["files"][name] == hashlib.sha256(content).hexdigest()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tmp_mbox(data: bytes) -> list:
    path = Path(f"/tmp/mediate-test-{hashlib.sha256(data).hexdigest()[:16]}.mbox")
    path.write_bytes(data)
    try:
        return list(mailbox.mbox(str(path)))
    finally:
        path.unlink()


async def test_an_export_is_recorded_in_the_audit_trail(service, played):
    data = export(service, played)
    with Session(service.engine) as session:
        case = played.case(session)
        [row] = session.exec(select(CaseExport).where(CaseExport.case_id == case.id)).all()
        last = audit.events_of(session, case)[-1]
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    assert last.kind == "export" and last.detail["sha256"] == row.sha256


async def test_a_fresh_archive_verifies_and_one_flipped_byte_in_any_member_is_named(
    service, played
):
    data = export(service, played)
    assert verify_archive(data).ok
    for name in members(data):
        result = verify_archive(rewrite(data, name, flip))
        assert not result.ok, name
        assert result.problems[0].startswith(f"{name}:"), (name, result.problems)


async def test_a_member_removed_or_added_is_named(service, played):
    data = export(service, played)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename != "costs.csv":
                new.writestr(info.filename, old.read(info.filename))
        new.writestr("attachments/extra.pdf", b"%PDF planted")
    problems = verify_archive(out.getvalue()).problems
    assert "costs.csv: missing" in problems
    assert any(p.startswith("attachments/extra.pdf:") for p in problems)


async def test_an_edited_audit_row_breaks_the_chain_in_the_database_and_in_the_archive(
    service, played, tmp_path, capsys
):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\ndomain = "mediation.test"\n'
        'secret_key = "test-secret-key-0123456789-abcdefghij"\n'
        f'[database]\nurl = "{service.settings.database_url}"\n'
        f'[[mediators]]\nemail = "{MEDIATOR}"\nname = "Maria de Vries"\n'
    )
    assert cli.main(["case", "verify", played.ref, "--config", str(config)]) == 0
    with session_scope(service.engine) as session:
        case = played.case(session)
        target = session.exec(select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.kind == "rejected")).one()
        session.execute(update(AuditEvent).where(col(AuditEvent.id) == target.id)
                        .values(detail={**target.detail, "reason": "the author was rude"}))
        position = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.id <= target.id)).one()
    capsys.readouterr()
    assert cli.main(["case", "verify", played.ref, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"BROKEN at event {position} (id {target.id}, rejected" in err

    out = tmp_path / "case.zip"
    assert cli.main(["case", "export", played.ref, "--out", str(out),
                     "--config", str(config)]) == 0
    capsys.readouterr()
    assert cli.main(["case", "verify", "--archive", str(out)]) == 1
    assert f"audit.jsonl line {position}:" in capsys.readouterr().err


async def test_verify_archive_from_the_command_line_says_it_is_intact(
    service, played, tmp_path, capsys
):
    out = tmp_path / "case.zip"
    out.write_bytes(export(service, played))
    assert cli.main(["case", "verify", "--archive", str(out)]) == 0
    assert "intact" in capsys.readouterr().out
    out.write_bytes(rewrite(out.read_bytes(), "transcript.html", flip))
    assert cli.main(["case", "verify", "--archive", str(out)]) == 1
    assert "transcript.html: changed" in capsys.readouterr().err


async def test_a_partys_export_holds_their_own_data_and_nothing_private_of_others(
    service, played
):
    with session_scope(service.engine) as session:
        case = played.case(session)
        anna = build_party_archive(session, case, played.party(session, ANNA), None,
                                   service.settings.templates_dir).data
        bram = build_party_archive(session, case, played.party(session, BRAM), None,
                                   service.settings.templates_dir).data
        cees = build_party_archive(session, case, played.party(session, CEES), None,
                                   service.settings.templates_dir).data
    for data in (anna, bram, cees):
        assert verify_archive(data).ok
    anna_files, bram_files, cees_files = members(anna), members(bram), members(cees)

    # each: their own intake answers and signature, nobody else's
    for files, own in ((anna_files, "anna-jansen"), (bram_files, "bram-de-boer"),
                       (cees_files, "cees-ünal")):
        assert [n for n in files if n.startswith("intake/")] == [
            next(n for n in files if n.startswith("intake/") and own in n)]
        assert [s["typed_name"].lower().replace(" ", "-")
                for s in json.loads(files["agreement/signatures.json"])] == [own]
    for files in (anna_files, cees_files):
        assert not any(INTAKE[BRAM].encode() in content for content in files.values())

    # Anna: her own words, her attachment, what others said to all; not Bram's caucus
    page = anna_files["transcript.html"].decode()
    assert "I would like to keep the sofa &amp; the &lt;old&gt; lamp." in page
    assert MEDIATOR_SHARED in page
    assert anna_files["attachments/0002-1-inventory.pdf"] == PDF
    for leak in (BRAM_PRIVATE, MEDIATOR_PRIVATE, CEES_WROTE):
        assert leak not in page
        assert leak.encode() not in anna_files["messages.mbox"]

    # Bram: his private line both ways, and Anna's words only as released to him
    page = bram_files["transcript.html"].decode()
    assert BRAM_PRIVATE in page and MEDIATOR_PRIVATE in page and ANNA_RELEASED in page
    assert "&lt;old&gt;" not in page and CEES_WROTE not in page
    assert "attachments/README.txt" in bram_files

    # Cees: his rejected message, nothing of Bram's caucus
    page = cees_files["transcript.html"].decode()
    assert CEES_WROTE in page and BRAM_PRIVATE not in page and MEDIATOR_PRIVATE not in page
    for data in (anna, bram, cees):
        assert b"audit.jsonl" not in data  # the trail names others and their decisions
    for files, own in ((anna_files, ANNA), (bram_files, BRAM), (cees_files, CEES)):
        others = {ANNA, BRAM, CEES} - {own}
        for address in others:
            assert address.encode() not in files["messages.mbox"]
            assert address.encode() not in files["transcript.html"]


async def test_participant_export_from_the_command_line(service, played, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\ndomain = "mediation.test"\n'
        'secret_key = "test-secret-key-0123456789-abcdefghij"\n'
        f'[database]\nurl = "{service.settings.database_url}"\n'
        f'[[mediators]]\nemail = "{MEDIATOR}"\nname = "Maria de Vries"\n'
    )
    out = tmp_path / "bram.zip"
    assert cli.main(["participant", "export", played.ref, "bram de boer", "--out", str(out),
                     "--config", str(config)]) == 0
    assert BRAM_PRIVATE.encode() in members(out.read_bytes())["transcript.html"]
    assert cli.main(["participant", "export", played.ref, "Dirk", "--out", str(out),
                     "--config", str(config)]) == 1
    assert "Anna Jansen" in capsys.readouterr().err
