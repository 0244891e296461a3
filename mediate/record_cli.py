"""Command-line handlers for the case record: verify, export, a party's own export, purge.

``mediate case verify REF`` and ``mediate case verify --archive FILE.zip`` exit 1 when anything
does not hold, naming the first broken link or the changed member. ``mediate case purge`` asks
for the case reference to be typed back unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlmodel import Session, select

from mediate.casework import find_case
from mediate.config import Settings, load_settings
from mediate.export import build_case_archive, build_party_archive, verify_archive
from mediate.service import prepare_database
from threads import audit
from threads.cases import lock_case
from threads.crypto import AtRestKey
from threads.db import session_scope
from threads.models import Participant
from threads.record import purge
from threads.record.retention import has_export

ACTOR = "command line"


def _key(settings: Settings) -> AtRestKey | None:
    return AtRestKey.from_setting(settings.privacy.encryption_key)


def cmd_case_verify(args: argparse.Namespace) -> int:
    if args.archive:
        result = verify_archive(Path(args.archive))
        if result.ok:
            chain = result.manifest.get("audit") or {}
            files = len(result.manifest.get("files", {}))
            print(f"{args.archive}: intact ({files} files"
                  + (f", audit trail of {chain.get('events')} events ending at "
                     f"{chain.get('final_hash')}" if chain else "") + ")")
            return 0
        print(f"{args.archive}: NOT intact", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if not args.ref:
        print("error: give a case reference or --archive FILE.zip", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    engine = prepare_database(settings)
    with Session(engine) as session:
        case = find_case(session, args.ref)
        events = audit.events_of(session, case)
        broken = audit.check(session, case)
        if broken is not None:
            print(f"Case {case.ref}: the audit trail is BROKEN at {broken.describe()}",
                  file=sys.stderr)
            return 1
        print(f"Case {case.ref}: the audit trail holds ({len(events)} events, "
              f"last hash {audit.final_hash(session, case)})")
    return 0


def cmd_case_export(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    engine = prepare_database(settings)
    with session_scope(engine) as session:
        case = lock_case(session, find_case(session, args.ref).id)
        archive = build_case_archive(session, case, _key(settings), settings.templates_dir,
                                     actor=ACTOR)
        Path(args.out).write_bytes(archive.data)
    print(f"Case {case.ref} exported to {args.out} ({len(archive.data)} bytes, "
          f"SHA-256 {archive.sha256})")
    return 0


def _find_participant(session: Session, case_id: int, name: str) -> Participant:
    people = session.exec(select(Participant).where(Participant.case_id == case_id)).all()
    wanted = " ".join(name.split()).casefold()
    exact = [p for p in people if p.name.casefold() == wanted]
    starts = [p for p in people if p.name.casefold().startswith(wanted)]
    match = exact or starts
    if len(match) != 1:
        names = ", ".join(p.name for p in people)
        raise LookupError(f"no single participant called {name!r} (participants: {names})")
    return match[0]


def cmd_participant_export(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    engine = prepare_database(settings)
    with session_scope(engine) as session:
        case = lock_case(session, find_case(session, args.ref).id)
        party = _find_participant(session, case.id, args.name)
        archive = build_party_archive(session, case, party, _key(settings),
                                      settings.templates_dir, actor=ACTOR)
        Path(args.out).write_bytes(archive.data)
    print(f"The data of {party.name} in case {case.ref} exported to {args.out} "
          f"({len(archive.data)} bytes, SHA-256 {archive.sha256})")
    return 0


def cmd_case_purge(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    engine = prepare_database(settings)
    with session_scope(engine) as session:
        case = lock_case(session, find_case(session, args.ref).id)
        if case.status == "purged":
            print(f"Case {case.ref} was purged already.")
            return 0
        print(f"Purging case {case.ref} deletes its messages, raw mail, attachments, intake "
              "answers, names and addresses for good. Kept: the reference, dates, outcome "
              "and the audit trail's final hash.")
        if not has_export(session, case):
            print("warning: no export of this case was made after it closed "
                  f"(mediate case export {case.ref} --out FILE.zip).")
        if not args.yes:
            if not sys.stdin.isatty():
                print("error: confirm with --yes when not typing at a terminal",
                      file=sys.stderr)
                return 1
            answer = input(f"Type the reference ({case.ref}) to purge it: ").strip().lower()
            if answer != case.ref:
                print("Nothing was purged.")
                return 1
        result = purge(session, case, actor=ACTOR)
    print(f"Case {result.ref} purged: {sum(result.removed.values())} records deleted; "
          f"the audit trail ended at {result.final_hash}.")
    return 0


def register(sub, case, add) -> None:  # noqa: ANN001 (argparse's private types)
    """Add ``case verify|export|purge`` and ``participant export`` to the command line."""
    verify = add("verify", cmd_case_verify,
                 "check the audit trail of a case, or an exported archive, for changes", case)
    verify.add_argument("ref", nargs="?")
    verify.add_argument("--archive", metavar="FILE.zip", help="check this archive offline")
    export = add("export", cmd_case_export, "write the whole case file to a zip archive", case)
    export.add_argument("ref")
    export.add_argument("--out", required=True, metavar="FILE.zip")
    purging = add("purge", cmd_case_purge,
                  "delete a case down to its tombstone (asks for confirmation)", case)
    purging.add_argument("ref")
    purging.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    participant = sub.add_parser("participant", help="one participant's data").add_subparsers(
        dest="participant", required=True)
    own = add("export", cmd_participant_export,
              "write one participant's own data (what they wrote and received) to a zip",
              participant)
    own.add_argument("ref")
    own.add_argument("name")
    own.add_argument("--out", required=True, metavar="FILE.zip")
