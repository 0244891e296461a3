"""Loading and validating the one TOML configuration file.

The settings object is built once and passed in; nothing reads the environment at import time.
Every problem names its key (``outbound.port: ...``), unknown keys are errors, and the secrets
may come from the environment instead of the file:

- ``MEDIATE_SECRET_KEY``       -> ``service.secret_key``
- ``MEDIATE_OUTBOUND_PASSWORD`` -> ``outbound.password``
- ``MEDIATE_DATABASE_URL``     -> ``database.url``
- ``MEDIATE_ENCRYPTION_KEY``   -> ``privacy.encryption_key``
- ``MEDIATE_IMAP_PASSWORD``    -> ``inbound.imap.password``
- ``MEDIATE_HEALTH_TOKEN``     -> ``web.health_token``
"""

from __future__ import annotations

import ipaddress
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from mailgate.settings import InboundSettings, OutboundSettings
from mediate import data
from threads.crypto import check_key
from threads.settings import (
    AftercareSettings,
    CaseSettings,
    MediatorSettings,
    ReminderSettings,
    Section,
    ServiceSettings,
)
from threads.tone import Lexicon, LexiconError
from threads.tone import lexicon_for as tone_lexicon_for

EXAMPLE = data.EXAMPLE_CONFIG
ENVIRONMENT = {
    "MEDIATE_SECRET_KEY": ("service", "secret_key"),
    "MEDIATE_OUTBOUND_PASSWORD": ("outbound", "password"),
    "MEDIATE_DATABASE_URL": ("database", "url"),
    "MEDIATE_ENCRYPTION_KEY": ("privacy", "encryption_key"),
    "MEDIATE_IMAP_PASSWORD": ("inbound", "imap", "password"),
    "MEDIATE_HEALTH_TOKEN": ("web", "health_token"),
}
INSECURE_EXAMPLE_KEY = "change-me-this-is-the-example-key-not-a-secret"
# Links are signed with HMAC-SHA256 (itsdangerous): a key shorter than the hash adds guessing
# room for nobody but an attacker.
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """The configuration is wrong; ``problems`` holds one line per key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DatabaseSettings(Section):
    url: str = "sqlite:///var/mediate.sqlite3"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith("postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value


class WebSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=0, le=65535)
    # Proxies whose X-Forwarded-For / -Proto are believed (addresses or networks); empty:
    # none, so the address recorded with a signature is the one that connected.
    trusted_proxies: list[str] = Field(default_factory=list)
    # /healthz gives its full report to loopback clients and to requests carrying this token
    # (Authorization: Bearer ...); everyone else gets only ok or not. Empty: loopback only.
    health_token: str = Field(default="", repr=False)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"'{item}' is not an IP address or network") from None
        return [item.strip() for item in value]


class LogSettings(Section):
    level: str = "INFO"

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value


class PrivacySettings(Section):
    """Retention and encryption at rest (``[privacy]``)."""

    retain_days: float = Field(default=0, ge=0)  # 0: keep until purged by hand
    encryption_key: str = Field(default="", repr=False)

    @field_validator("encryption_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value.strip():
            check_key(value)
        return value.strip()


class LinksSettings(Section):
    """Signed links to the registration, intake and agreement pages (``[links]``)."""

    max_age_days: float = Field(default=30, gt=0, le=365)


class FilesSettings(Section):
    """Where the templates and intake forms come from (``[files]``); empty: the shipped ones."""

    templates_dir: str = ""
    intake_forms_dir: str = ""


class FeesSettings(Section):
    """Costs named in the mediation agreement (``[fees]``); hourly rates are per mediator."""

    platform_fee: float = Field(default=0, ge=0)  # euros, once per case
    # VAT on the mediator's time and the platform fee, shown on its own line; 0: none shown
    vat_percent: float = Field(default=0, ge=0, le=100)


class ToneSettings(Section):
    """The tone check's word lists and patterns (``[tone]``): the administrator's own files,
    in the format of ``threads/tone/*.toml``, added to the shipped ones."""

    extra_files: list[str] = Field(default_factory=list)


class VideoSettings(Section):
    """Video sessions (``[video]``): the room link #video invites to; {room} becomes an
    unguessable name, the same for everyone in one session."""

    url_template: str = ""

    @field_validator("url_template")
    @classmethod
    def _template(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith("https://") or "{room}" not in value):
            raise ValueError("must be an https:// link containing {room}, "
                             "e.g. https://meet.jit.si/{room}")
        return value


class RelaySettings(Section):
    """How a party's words travel (``[relay]``). ``night_hold``: in open moderation, copies
    to parties in their quiet hours (``[reminders] quiet_hours``, the case's time zone) wait
    until those end (threads.night)."""

    night_hold: bool = True


class ServeSettings(Section):
    """How `mediate serve` runs (``[serve]``): the front door (SMTP/LMTP, IMAP, web) and the
    workers (pipeline, outbox, scheduler) as separate processes sharing only the database, or
    all in one process. 0 workers means: chosen from the machine's cores (``workers_for``)."""

    processes: bool = True
    pipeline_workers: int = Field(default=0, ge=0, le=64)
    outbox_workers: int = Field(default=0, ge=0, le=64)


class Settings(Section):
    serve: ServeSettings = ServeSettings()
    service: ServiceSettings = ServiceSettings()
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    inbound: InboundSettings = InboundSettings()
    outbound: OutboundSettings = OutboundSettings()
    cases: CaseSettings = CaseSettings()
    reminders: ReminderSettings = ReminderSettings()
    log: LogSettings = LogSettings()
    privacy: PrivacySettings = PrivacySettings()
    links: LinksSettings = LinksSettings()
    fees: FeesSettings = FeesSettings()
    files: FilesSettings = FilesSettings()
    tone: ToneSettings = ToneSettings()
    video: VideoSettings = VideoSettings()
    relay: RelaySettings = RelaySettings()
    aftercare: AftercareSettings = AftercareSettings()
    mediators: list[MediatorSettings] = Field(default_factory=list)

    # where relative paths (SQLite file, Maildir) are resolved; the config file's folder
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def templates_dir(self) -> Path:
        own = self.files.templates_dir
        return self.resolve_path(own) if own else data.TEMPLATES

    @property
    def intake_forms_dir(self) -> Path:
        own = self.files.intake_forms_dir
        return self.resolve_path(own) if own else data.INTAKE_FORMS

    @property
    def database_url(self) -> str:
        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            relative = url.removeprefix("sqlite:///")
            if relative != ":memory:":
                return f"sqlite:///{(self.base_dir / relative).resolve()}"
        return url

    def tone_lexicon(self) -> Lexicon:
        """The shipped tone lexicon plus ``[tone] extra_files``, compiled once per process."""
        return tone_lexicon_for(tuple(self.resolve_path(f) for f in self.tone.extra_files))

    def resolve_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (self.base_dir / path).resolve()


def _location(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def _explain(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling against config.example.toml)"
    if error["type"] == "missing":
        return "is required"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def from_mapping(
    data: dict[str, Any], base_dir: Path, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    data = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    for variable, (*sections, key) in ENVIRONMENT.items():
        if environ.get(variable):
            target = data
            for section in sections:  # copied, so the caller's mapping is left as it was
                target[section] = target = dict(target.get(section) or {})
            target[key] = environ[variable]
    try:
        settings = Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as error:
        raise ConfigError(
            [f"{_location(e['loc'], data)}: {_explain(e)}" for e in error.errors()]
        ) from None
    problems = semantic_problems(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def semantic_problems(settings: Settings) -> list[str]:
    problems = []
    if not settings.mediators:
        problems.append("mediators: configure at least one mediator ([[mediators]] email, name)")
    seen: set[str] = set()
    for index, mediator in enumerate(settings.mediators):
        if mediator.email in seen:
            problems.append(f"mediators[{index}].email: {mediator.email} is listed twice")
        seen.add(mediator.email)
    open_address = settings.service.open_address.strip().lower()
    if open_address and not open_address.endswith("@" + settings.service.domain):
        problems.append(
            f"service.open_address: must be an address on service.domain "
            f"(e.g. open@{settings.service.domain}), not {open_address}"
        )
    if len(settings.service.secret_key) < 16:
        problems.append(
            "service.secret_key: must be at least 16 characters "
            "(set it in the file or in MEDIATE_SECRET_KEY)"
        )
    if settings.tone.extra_files:
        try:
            settings.tone_lexicon()
        except LexiconError as error:
            problems += [f"tone.extra_files: {problem}" for problem in error.problems]
    if settings.outbound.transport == "smtp" and not settings.outbound.host:
        problems.append("outbound.host: required when outbound.transport is 'smtp'")
    own_files = settings.files
    for key, own in (("templates_dir", own_files.templates_dir),
                     ("intake_forms_dir", own_files.intake_forms_dir)):
        if own and not settings.resolve_path(own).is_dir():
            problems.append(f"files.{key}: {settings.resolve_path(own)} is not a folder")
    return problems


def serving_problems(settings: Settings) -> list[str]:
    """What makes a configuration unfit to face the internet, though fine for looking around
    (``case list``, ``inspect``): ``serve`` refuses to start on any of it, ``check-config``
    names it. A public key lets anyone forge a link to a party's answers."""
    key = settings.service.secret_key
    if key == INSECURE_EXAMPLE_KEY:
        return ["service.secret_key: is the public example key; run `mediate init` for a "
                "config.toml with a fresh one, or set MEDIATE_SECRET_KEY"]
    if len(key.encode()) < MIN_SECRET_BYTES:
        return [f"service.secret_key: must be at least {MIN_SECRET_BYTES} bytes "
                f"(it has {len(key.encode())}); `mediate init` writes a good one"]
    return []


def warnings(settings: Settings) -> list[str]:
    """Valid, but unsafe for real use: said by check-config and on every start of serve."""
    said = []
    if settings.inbound.mediator_authentication == "address-only":
        said.append(
            'inbound.mediator_authentication is "address-only": anyone who can send mail '
            "into Mediate with a mediator's From address acts as that mediator; use it only "
            'in a closed set-up ("dkim" is the default)')
    return said


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as error:  # e.g. a config.toml of another user, mode 0600
        raise ConfigError([f"{path}: cannot be read ({error.strerror})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    return from_mapping(data, path.resolve().parent, environ)


DEFAULT_CONFIG = Path("config.toml")


def load_settings(path: str | None) -> Settings:
    if path is None:
        candidate = DEFAULT_CONFIG
        if not candidate.exists():
            print(
                f"warning: {candidate} not found, using {EXAMPLE} "
                "(copy it to config.toml to make it your own)",
                file=sys.stderr,
            )
            candidate = EXAMPLE
    else:
        candidate = Path(path)
    return load(candidate)
