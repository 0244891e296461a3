"""`mediate init [DIR]`: a folder to run Mediate from, safe from the first start.

It writes ``DIR/config.toml``, a copy of the commented example with a fresh random
``service.secret_key`` (the example's key is public: with it anyone can forge a party's link),
readable by its owner only, and creates the data folder ``DIR/var`` with mode 0700. An existing
``config.toml`` is never overwritten: its key signs links that are out in people's mailboxes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from mediate.config import EXAMPLE, INSECURE_EXAMPLE_KEY, Settings

DATA_FOLDER = "var"  # the example's database, Maildir and exports live here


class InitError(Exception):
    """The folder cannot be initialised; the message says why, in one line."""


def fresh_secret_key() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, 384 random bits


def config_text(key: str, now: datetime | None = None) -> str:
    example = EXAMPLE.read_text(encoding="utf-8")
    placeholder = f'secret_key = "{INSECURE_EXAMPLE_KEY}"'
    if placeholder not in example:  # the shipped example and this command disagree
        raise InitError(f"{EXAMPLE} has no example secret_key line to replace")
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# Written by `mediate init` on {stamp}, with a fresh secret key of its own.\n"
              "# Keep this file private: the key signs every link in Mediate's mails.\n#\n")
    return header + example.replace(placeholder, f'secret_key = "{key}"', 1)


def private_folder(path: Path) -> None:
    """Create ``path`` readable by its owner only; an existing folder is tightened, since
    Mediate's data folder holds what parties wrote."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def private_sqlite(settings: Settings) -> None:
    """Create the SQLite file (and its folder) before SQLite does, so that it is born with mode
    0600 instead of the umask's 0644; an existing one, and its WAL files, are tightened."""
    url = settings.database_url
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if not path.parent.exists():
        private_folder(path.parent)
    # Never open an existing database file: closing any descriptor of it drops every SQLite
    # lock this process holds on it (POSIX locks are per process), and another process may
    # then take this process's live connection for gone, checkpoint and delete the WAL under
    # it ("database disk image is malformed").
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            name.chmod(0o600)


def init_folder(folder: Path) -> Path:
    """Write ``folder/config.toml`` and create ``folder/var``; the config's path is returned."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    if config.exists():
        raise InitError(f"{config} exists already; it was left as it is")
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(config_text(fresh_secret_key()))
    private_folder(folder / DATA_FOLDER)
    return config
