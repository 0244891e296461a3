"""The case file as one zip archive, and its offline verification.

A case archive holds ``transcript.html``, ``messages.mbox`` (every inbound and outgoing mail as
it was, mboxrd format as read by Thunderbird and mutt), ``attachments/``, ``intake/``,
``agreement/``, ``settlement/`` (the text, its signatures and the PDF), ``costs.csv``,
``audit.jsonl`` (the hash chain, one event a line) and
``manifest.json`` (SHA-256 of every member, plus a digest over the manifest itself).
A party's archive holds only their own share (``threads.record.party_transcript``), their mail,
their intake answers and their own signature; nothing of the others' private lines.

``verify_archive`` needs nothing but the file: it checks the manifest's digest, every member's
hash, that no member was added or removed, and recomputes the audit chain.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session

from mediate import archive_parts as parts
from threads import audit
from threads.crypto import AtRestKey, seal, unseal
from threads.models import Case, CaseExport, Participant, utcnow
from threads.record import party_transcript, transcript

FORMAT = "mediate-archive/1"
MANIFEST = "manifest.json"
AUDIT = "audit.jsonl"
MAIL_LIMIT = 10 * 1024 * 1024  # larger archives go by signed download link, not attached
LINK_DAYS = 7


@dataclass
class Archive:
    filename: str
    data: bytes
    sha256: str
    manifest_sha256: str
    audit_hash: str
    export: CaseExport | None = None


def _digest(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()) \
        .hexdigest()


def write_zip(members: dict[str, bytes], meta: dict) -> tuple[bytes, bytes]:
    """The zip bytes and its manifest: members in the given order, then ``manifest.json``."""
    manifest = {
        "format": FORMAT, **meta,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    manifest["digest"] = _digest(manifest)
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*members.items(), (MANIFEST, manifest_bytes)]:
            archive.writestr(name, data)
    return buffer.getvalue(), manifest_bytes


def _record(session: Session, case: Case, kind: str, actor: str, data: bytes,
            manifest: bytes, chain: str, party: str | None) -> CaseExport:
    export = CaseExport(
        case_id=case.id, kind=kind, participant_name=party, actor=actor,
        sha256=hashlib.sha256(data).hexdigest(),
        manifest_sha256=hashlib.sha256(manifest).hexdigest(), size=len(data), audit_hash=chain,
    )
    session.add(export)
    session.flush()
    detail = {"sha256": export.sha256, "manifest": export.manifest_sha256, "size": len(data)}
    if party:
        detail["participant"] = party
    audit.record(session, case, "export" if kind == "case" else "participant-export",
                 actor=actor, **detail)
    return export


def build_case_archive(
    session: Session, case: Case, key: AtRestKey | None, templates_dir: Path,
    actor: str = "system", now: datetime | None = None,
) -> Archive:
    """The whole case file; the export is recorded (CaseExport row and audit event)."""
    now = now or utcnow()
    record = transcript(session, case)
    events = audit.events_of(session, case)
    chain = audit.final_hash(session, case)
    files = parts.attachments(session, record.entries, key)
    members: dict[str, bytes] = {
        "transcript.html": parts.render_transcript(
            templates_dir, record, now, files, parts.left_out(session, record.entries)),
        "messages.mbox": parts.mbox(session, case, key),
    }
    members |= files
    members |= parts.intake(session, case, None)
    members |= parts.agreement(session, case)
    members |= parts.settlement(session, case)
    members["costs.csv"] = parts.costs(session, case)
    members[AUDIT] = b"".join(
        json.dumps(audit.as_row(e), sort_keys=True, ensure_ascii=False).encode() + b"\n"
        for e in events
    )
    meta = {"kind": "case", "case": case.ref, "created_at": now.isoformat(),
            "audit": {"anchor": audit.anchor(session, case.id), "final_hash": chain,
                      "events": len(events)}}
    data, manifest = write_zip(members, meta)
    export = _record(session, case, "case", actor, data, manifest, chain, None)
    return Archive(f"case-{case.ref}.zip", data, export.sha256, export.manifest_sha256, chain,
                   export)


def build_party_archive(
    session: Session, case: Case, party: Participant, key: AtRestKey | None,
    templates_dir: Path, actor: str = "system", now: datetime | None = None,
) -> Archive:
    """One party's own data: what they wrote and received, and their intake."""
    now = now or utcnow()
    share = party_transcript(session, case, party)
    own = [e for e in share.entries if e.own]
    files = parts.attachments(session, own, key)
    members: dict[str, bytes] = {
        "transcript.html": parts.render_transcript(templates_dir, share, now, files,
                                                   parts.left_out(session, own)),
        "messages.mbox": parts.mbox(session, case, key, party=party),
    }
    members |= files
    members |= parts.intake(session, case, party)
    members |= parts.agreement(session, case, party)
    meta = {"kind": "participant", "case": case.ref, "participant": party.name,
            "created_at": now.isoformat()}
    data, manifest = write_zip(members, meta)
    chain = audit.final_hash(session, case)
    export = _record(session, case, "participant", actor, data, manifest, chain, party.name)
    slug = "".join(c if c.isalnum() else "-" for c in party.name.lower()).strip("-")
    return Archive(f"case-{case.ref}-{slug}.zip", data, export.sha256, export.manifest_sha256,
                   chain, export)


@dataclass
class Delivery:
    """How the ``#export`` archive reaches the mediator: attached, or behind a signed link."""

    archive: Archive
    attach: bool
    link: str | None = None


def for_mediator(
    session: Session, case: Case, mediator: Participant, key: AtRestKey | None,
    templates_dir: Path, secret: str, base_url: str, mail_limit: int | None = None,
) -> Delivery:
    """Build the case archive for ``#export``; too large to mail, it waits behind a link."""
    archive = build_case_archive(session, case, key, templates_dir, actor=mediator.name)
    if len(archive.data) <= (MAIL_LIMIT if mail_limit is None else mail_limit):
        return Delivery(archive, attach=True)
    assert archive.export is not None
    archive.export.archive = seal(archive.data, key)
    session.add(archive.export)
    token = _signer(secret).dumps(archive.export.id)
    return Delivery(archive, attach=False, link=f"{base_url.rstrip('/')}/export/{token}")


def _signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="mediate-case-export")


def fetch_download(session: Session, token: str, secret: str, key: AtRestKey | None,
                   max_age_days: float = LINK_DAYS) -> tuple[str, bytes] | None:
    """The web route's half of the link: (filename, zip) or None if invalid or expired."""
    try:
        export_id = _signer(secret).loads(token, max_age=int(max_age_days * 86400))
    except BadSignature:
        return None
    export = session.get(CaseExport, export_id)
    if export is None or export.archive is None:
        return None
    case = session.get(Case, export.case_id)
    return f"case-{case.ref if case else export.case_id}.zip", unseal(export.archive, key)


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(source: Path | bytes) -> Verification:
    """Check an archive offline; every problem names the member (and line) it concerns."""
    result = Verification()
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as error:
        result.problems.append(f"the file is not a readable zip archive ({error})")
        return result
    with archive:
        contents: dict[str, bytes] = {}
        for name in archive.namelist():
            try:
                contents[name] = archive.read(name)
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                result.problems.append(f"{name}: damaged ({error})")
    try:
        manifest = json.loads(contents.pop(MANIFEST))
        files = manifest["files"]
        assert isinstance(files, dict)
    except KeyError:
        result.problems.append(f"{MANIFEST}: missing or unreadable")
        return result
    except (ValueError, TypeError, AssertionError):
        result.problems.append(f"{MANIFEST}: changed (no longer valid JSON)")
        return result
    result.manifest = manifest
    if manifest.get("digest") != _digest(manifest):
        result.problems.append(f"{MANIFEST}: changed (its digest does not match its content)")
        return result
    for name, data in contents.items():
        expected = files.get(name)
        if expected is None:
            result.problems.append(f"{name}: not listed in the manifest (added afterwards)")
        elif hashlib.sha256(data).hexdigest() != expected:
            result.problems.append(f"{name}: changed (SHA-256 differs from the manifest)")
    for name in files:
        if name not in contents and not any(p.startswith(f"{name}:") for p in result.problems):
            result.problems.append(f"{name}: missing")
    if AUDIT in contents and not result.problems:
        result.problems += _verify_chain(contents[AUDIT], manifest.get("audit") or {})
    return result


def _verify_chain(data: bytes, expected: dict) -> list[str]:
    rows = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            return [f"{AUDIT} line {number}: not valid JSON"]
    broken = audit.verify_rows(rows, expected.get("anchor", ""))
    if broken is not None:
        return [f"{AUDIT} line {broken.index + 1}: {broken.describe()}"]
    last = rows[-1]["hash"] if rows else expected.get("anchor", "")
    if last != expected.get("final_hash", last):
        return [f"{AUDIT}: the chain ends at {last[:12]}…, the manifest says "
                f"{str(expected.get('final_hash'))[:12]}…"]
    return []
