"""The `mediate` command line: configuration checks, the database, cases, `serve`, `demo`.

Every command takes ``--config PATH`` (default ``./config.toml``, falling back to
``config.example.toml`` with a warning). Errors are printed as one line per problem and the
command exits 1; nothing is half-done.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from mediate import config as configuration
from mediate.config import ConfigError, Settings

DEFAULT_CONFIG = Path("config.toml")


def load_settings(path: str | None) -> Settings:
    if path is None:
        candidate = DEFAULT_CONFIG
        if not candidate.exists():
            print(
                f"warning: {candidate} not found, using {configuration.EXAMPLE} "
                "(copy it to config.toml to make it your own)",
                file=sys.stderr,
            )
            candidate = configuration.EXAMPLE
    else:
        candidate = Path(path)
    return configuration.load(candidate)


def _configure_logging(settings: Settings | None, verbose: bool = False) -> None:
    from mediate.logging_setup import configure

    level = "DEBUG" if verbose else (settings.log.level if settings else "INFO")
    configure(level)  # one logfmt line per decision, addresses redacted


def cmd_check_config(args: argparse.Namespace) -> int:
    from mediate.web.server import intake_forms

    settings = load_settings(args.config)
    forms = intake_forms(settings)  # a broken form is a ConfigError naming file and question
    if settings.service.secret_key == configuration.INSECURE_EXAMPLE_KEY:
        print("warning: service.secret_key is the example key; set your own before real use")
    print(f"intake forms: {', '.join(sorted(forms))}")
    print("configuration is valid")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from threads import db

    settings = load_settings(args.config)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    print(f"database is at revision {db.current_revision(engine)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mediate.supervisor import run

    settings = load_settings(args.config)
    _configure_logging(settings, args.verbose)
    _return_large_blocks_to_the_system()
    return run(settings)


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
    from mediate import casework

    settings = load_settings(args.config)
    result = casework.open_case(
        settings, title=args.title, mediator_email=args.mediator, parties=args.party or [],
        moderation=args.moderation, language=args.language,
        intake=args.intake, agreement=args.agreement,
    )
    print(f"Case {result.ref} opened: {result.title}")
    print(f"Mediator reply address: {result.mediator_address}")
    for name, address in result.party_addresses:
        print(f"  {name}: {address}")
    print("Invitations are in the outbox and go out with the next delivery round.")
    return 0


def cmd_case_list(args: argparse.Namespace) -> int:
    from mediate import casework

    settings = load_settings(args.config)
    rows = casework.list_cases(settings)
    if not rows:
        print("No cases yet.")
    for row in rows:
        print(f"{row['ref']:<12} {row['status']:<8} {row['moderation']:<7} "
              f"{row['parties']:>2} parties  {row['title']}")
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    from mediate import casework

    settings = load_settings(args.config)
    print(casework.show_case(settings, args.ref))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from mediate.inspect_cmd import run_inspect

    return run_inspect(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from mediate.demo import run_demo

    return asyncio.run(run_demo(keep=args.keep))


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

    add("check-config", cmd_check_config, "validate the configuration and list every problem")
    database = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    add("upgrade", cmd_db_upgrade, "create or upgrade the schema", database)
    serve = add("serve", cmd_serve, "run the SMTP server, pipeline, outbox and web pages")
    serve.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    case = sub.add_parser("case", help="open and look at cases").add_subparsers(
        dest="case", required=True
    )
    opening = add("open", cmd_case_open, "open a case and invite the parties", case)
    opening.add_argument("--title", required=True)
    opening.add_argument("--mediator", required=True, help="a configured mediator's e-mail")
    opening.add_argument("--party", action="append", metavar='"Name <email>"')
    opening.add_argument("--moderation", choices=["review", "open"])
    opening.add_argument("--language", choices=["nl", "en"])
    opening.add_argument("--intake", metavar="NAME", help="intake form (intake_forms/NAME.toml)")
    opening.add_argument("--agreement", metavar="FILE", help="your own agreement template")
    add("list", cmd_case_list, "list cases", case)
    show = add("show", cmd_case_show, "participants, their state and message counts", case)
    show.add_argument("ref")
    from mediate.record_cli import register as register_record

    register_record(sub, case, add)

    inspect = add("inspect", cmd_inspect, "show what Mediate would do with a mail (no changes)")
    inspect.add_argument("file", help="an .eml file, or - for standard input")
    inspect.add_argument("--as-reply-from", metavar="ADDRESS")
    inspect.add_argument("--json", action="store_true")

    demo = add("demo", cmd_demo, "run a complete scripted mediation in a temporary folder")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")

    from mediate.reminders_cli import register as register_reminders

    register_reminders(sub, add)
    from mediate.outbox_cli import register as register_outbox

    register_outbox(sub, add)
    return parser


def main(argv: list[str] | None = None) -> int:
    from threads.cases import CaseError
    from threads.db import SchemaOutOfDate

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
