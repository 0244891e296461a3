"""Loading and validating the one TOML configuration file.

The settings object is built once and passed in; nothing reads the environment at import time.
Every problem names its key (``outbound.port: ...``), unknown keys are errors, and the secrets
may come from the environment instead of the file:

- ``MEDIATE_SECRET_KEY``       -> ``service.secret_key``
- ``MEDIATE_OUTBOUND_PASSWORD`` -> ``outbound.password``
- ``MEDIATE_DATABASE_URL``     -> ``database.url``
- ``MEDIATE_ENCRYPTION_KEY``   -> ``privacy.encryption_key``
- ``MEDIATE_IMAP_PASSWORD``    -> ``inbound.imap.password``
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from mailgate.settings import InboundSettings, OutboundSettings
from threads.settings import (
    CaseSettings,
    MediatorSettings,
    ReminderSettings,
    Section,
    ServiceSettings,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
ENVIRONMENT = {
    "MEDIATE_SECRET_KEY": ("service", "secret_key"),
    "MEDIATE_OUTBOUND_PASSWORD": ("outbound", "password"),
    "MEDIATE_DATABASE_URL": ("database", "url"),
    "MEDIATE_ENCRYPTION_KEY": ("privacy", "encryption_key"),
    "MEDIATE_IMAP_PASSWORD": ("inbound", "imap", "password"),
}
INSECURE_EXAMPLE_KEY = "change-me-this-is-the-example-key-not-a-secret"


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
        from threads.crypto import check_key

        if value.strip():
            check_key(value)
        return value.strip()


class LinksSettings(Section):
    """Signed links to the registration, intake and agreement pages (``[links]``)."""

    max_age_days: float = Field(default=30, gt=0, le=365)


class FeesSettings(Section):
    """Costs named in the mediation agreement (``[fees]``); hourly rates are per mediator."""

    platform_fee: float = Field(default=0, ge=0)  # euros, once per case


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
    mediators: list[MediatorSettings] = Field(default_factory=list)

    # where relative paths (SQLite file, Maildir) are resolved; the config file's folder
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def templates_dir(self) -> Path:
        return ROOT / "templates"

    @property
    def intake_forms_dir(self) -> Path:
        return ROOT / "intake_forms"

    @property
    def database_url(self) -> str:
        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            relative = url.removeprefix("sqlite:///")
            if relative != ":memory:":
                return f"sqlite:///{(self.base_dir / relative).resolve()}"
        return url

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
    if settings.outbound.transport == "smtp" and not settings.outbound.host:
        problems.append("outbound.host: required when outbound.transport is 'smtp'")
    return problems


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    return from_mapping(data, path.resolve().parent, environ)
