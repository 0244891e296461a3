"""The `mediate` command line: configuration checks, the database, cases, `serve`, `demo`.

Every command takes ``--config PATH`` (default ``./config.toml``, falling back to
``config.example.toml`` with a warning). Errors are printed as one line per problem and the
command exits 1; nothing is half-done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from mailgate.dkim import DkimError, make_signer
from mediate import casework
from mediate import config as configuration
from mediate.config import ConfigError, Settings, load_settings
from mediate.demo import run_demo
from mediate.inbound_cli import register as register_inbound
from mediate.init_cmd import InitError, init_folder, private_sqlite
from mediate.inspect_cmd import run_inspect
from mediate.logging_setup import configure
from mediate.outbox_cli import register as register_outbox
from mediate.record_cli import register as register_record
from mediate.reminders_cli import register as register_reminders
from mediate.rotate import rotate
from mediate.service import at_rest_key, open_database, prepare_database, tls_context
from mediate.supervisor import run
from mediate.web.server import intake_forms
from threads import db
from threads.cases import CaseError
from threads.db import SchemaOutOfDate


def _configure_logging(settings: Settings | None, verbose: bool = False) -> None:
    level = "DEBUG" if verbose else (settings.log.level if settings else "INFO")
    configure(level)  # one logfmt line per decision, addresses redacted


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    forms = intake_forms(settings)  # a broken form is a ConfigError naming file and question
    print(f"templates: {settings.templates_dir}")
    print(f"intake forms: {', '.join(sorted(forms))} ({settings.intake_forms_dir})")
    print(at_rest_note(settings))
    for warning in configuration.warnings(settings):
        print(f"warning: {warning}")
    problems = configuration.serving_problems(settings)
    try:
        tls_context(settings)  # the certificate and key load, and belong together
    except OSError as error:
        problems.append(str(error))
    try:
        make_signer(settings.outbound.dkim, settings.service.domain, settings.base_dir)
    except DkimError as error:
        problems.append(str(error))
    if problems:
        raise ConfigError(problems)
    print("configuration is valid")
    return 0


def at_rest_note(settings: Settings) -> str:
    """What the database holds readably, said plainly (issue 14: no false comfort)."""
    if settings.privacy.encryption_key:
        return ("at rest: raw mail, files, message text, intake answers, names, signatures, "
                "e-mail addresses and reply tokens are encrypted (privacy.encryption_key); "
                "addresses and tokens are found by keyed hashes; case titles and the audit "
                "trail (who did what, by name) are stored in the clear; what was stored before "
                "the key was set stays in the clear until 'mediate db rotate-key'")
    return ("at rest: privacy.encryption_key is not set, so everything is stored in the clear: "
            "raw mail, files, message text, intake answers, names, e-mail addresses and reply "
            "tokens; protect the database and its backups accordingly")


def cmd_init(args: argparse.Namespace) -> int:
    try:
        written = init_folder(Path(args.folder))
    except (InitError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {written} with a fresh secret key; data goes to {written.parent / 'var'}")
    print(f"next: edit it, then `mediate --config {written} check-config` and `serve`")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    private_sqlite(settings)
    engine = open_database(settings)  # with the key: new lookup hashes are keyed from the start
    db.upgrade(engine)
    print(f"database is at revision {db.current_revision(engine)}")
    return 0


def cmd_db_rotate_key(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    key = at_rest_key(settings)
    if key is None:
        print("error: privacy.encryption_key is not set; set it to NEW (or NEW,OLD to "
              "replace OLD) first", file=sys.stderr)
        return 1
    done = rotate(prepare_database(settings), key)
    print("sealed with the first key of privacy.encryption_key: "
          + ", ".join(f"{table} {rows}" for table, rows in done.items()))
    print("older keys in the setting are no longer needed")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    problems = configuration.serving_problems(settings)
    for problem in problems:  # one line, before anything listens
        print(f"mediate serve will not start: {problem}", file=sys.stderr)
    if problems:
        return 1
    os.umask(0o077)  # what serve writes (database, Maildir, exports) is for Mediate's user only
    _configure_logging(settings, args.verbose)
    _return_large_blocks_to_the_system()
    try:
        return run(settings)  # the supervisor and its processes, or one process
    except (OSError, DkimError) as error:  # a busy port, an unreadable file: named setting
        print(f"mediate serve could not start: {error}", file=sys.stderr)
        return 1


def _return_large_blocks_to_the_system() -> None:
    """glibc raises its mmap threshold after a large block is freed (up to 32 MB), so the
    next mail with a large file lives on the heap, which is never given back: serve kept its
    peak for good. A fixed 1 MB threshold keeps large blocks mapped, and freeing returns them."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD (glibc's malloc.h)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def cmd_case_open(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    result = casework.open_case(
        settings, title=args.title, mediator_email=args.mediator, parties=args.party or [],
        moderation=args.moderation, language=args.language,
        intake=args.intake, agreement=args.agreement,
        timezone=args.timezone, address=args.address,
        cooling_off=" ".join(args.cooling_off) if args.cooling_off else None,
    )
    print(f"Case {result.ref} opened: {result.title}")
    print(f"Mediator reply address: {result.mediator_address}")
    for name, address in result.party_addresses:
        print(f"  {name}: {address}")
    print("Invitations are in the outbox and go out with the next delivery round.")
    return 0


def cmd_case_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    rows = casework.list_cases(settings)
    if not rows:
        print("No cases yet.")
    for row in rows:
        print(f"{row['ref']:<12} {row['status']:<8} {row['moderation']:<7} "
              f"{row['parties']:>2} parties  {row['title']}")
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(casework.show_case(settings, args.ref))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    return run_inspect(args)


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(run_demo(keep=args.keep))


class RoleOfLastParty(argparse.Action):
    """``--party "Ineke <ineke@x>" --role grandparent``: the role belongs to that party."""

    def __call__(self, parser, namespace, value, option_string=None):  # noqa: ANN001,ANN204
        parties = getattr(namespace, "party", None)
        if not parties:
            parser.error("--role must follow the --party it belongs to")
        parties[-1] = f"{parties[-1]} role: {value}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="configuration file (default ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler, help_text: str, parent=sub) -> argparse.ArgumentParser:  # noqa: ANN001
        command = parent.add_parser(name, help=help_text)
        command.add_argument("--config", default=argparse.SUPPRESS, help="configuration file")
        command.set_defaults(handler=handler)
        return command

    init = add("init", cmd_init, "write config.toml with a fresh secret key, and a private data "
               "folder")
    init.add_argument("folder", nargs="?", default=".", help="where (default: here)")
    add("check-config", cmd_check_config, "validate the configuration and list every problem")
    database = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    add("upgrade", cmd_db_upgrade, "create or upgrade the schema", database)
    add("rotate-key", cmd_db_rotate_key, "seal everything stored again with the newest "
        "privacy.encryption_key", database)
    serve = add("serve", cmd_serve, "run the SMTP server, pipeline, outbox and web pages")
    serve.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    case = sub.add_parser("case", help="open and look at cases").add_subparsers(
        dest="case", required=True
    )
    opening = add("open", cmd_case_open, "open a case and invite the parties", case)
    opening.add_argument("--title", required=True)
    opening.add_argument("--mediator", required=True, help="a configured mediator's e-mail")
    opening.add_argument("--party", action="append", metavar='"Name <email>"')
    opening.add_argument("--role", action=RoleOfLastParty, metavar="ROLE",
                         help="the role of the --party just before it (e.g. grandparent), "
                              "for an intake form that asks roles different questions")
    opening.add_argument("--moderation", choices=["review", "open"])
    opening.add_argument("--language", choices=["nl", "en"])
    opening.add_argument("--intake", metavar="NAME", help="intake form (intake_forms/NAME.toml)")
    opening.add_argument("--agreement", metavar="FILE", help="your own agreement template")
    opening.add_argument("--timezone", metavar="ZONE",
                         help="the case's time zone (e.g. Europe/Brussels); default: "
                              "service.timezone")
    opening.add_argument("--cooling-off", nargs="+", metavar="hold|delay N",
                         help="heated words in open mode: held for you (hold, the default), "
                              "or sent after N minutes unless their author stops them")
    opening.add_argument("--address", choices=["je", "u"],
                         help="Dutch form of address: je (first names) or u; default: "
                              "cases.address")
    add("list", cmd_case_list, "list cases", case)
    show = add("show", cmd_case_show, "participants, their state and message counts", case)
    show.add_argument("ref")
    register_record(sub, case, add)

    inspect = add("inspect", cmd_inspect, "show what Mediate would do with a mail (no changes)")
    inspect.add_argument("file", help="an .eml file, or - for standard input")
    inspect.add_argument("--as-reply-from", metavar="ADDRESS")
    inspect.add_argument("--json", action="store_true")

    demo = add("demo", cmd_demo, "run a complete scripted mediation in a temporary folder")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")


    register_reminders(sub, add)
    register_outbox(sub, add)

    register_inbound(sub, add)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    try:
        return args.handler(args)
    except ConfigError as error:
        print("The configuration has problems:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except CaseError as error:
        print("The case was not opened:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except SchemaOutOfDate as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except LookupError as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
