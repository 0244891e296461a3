"""A real Dovecot IMAP server for tests, on a free loopback port, configured in tmp_path.

Plaintext IMAP on 127.0.0.1 only, one passwd-file user, Maildir storage under tmp_path.
As root (CI), Dovecot insists that its login, auth and mail processes do not run as root:
the login process is chrooted (the default), the auth process may read tmp_path as root, and
the mail process runs as the ``dovecot`` user chrooted into its home (``/./`` in the userdb
home), so no directory above tmp_path needs to be opened up. As another user everything runs
as that user, without chroots.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "mediate", "test-imap-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.config = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        self._write_config()

    def _write_config(self) -> None:
        root = self.root
        for name in ("run", "state", "home"):
            (root / name).mkdir(parents=True, exist_ok=True)
        (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        home = root / "home" / USER
        home.mkdir(exist_ok=True)
        login_chroot = ""  # as root: the default chroot, base_dir/login
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
            users = (
                "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
                "service auth {\n  user = root\n}\n"
                f"valid_chroot_dirs = {root / 'home'}\nfirst_valid_uid = {mail_user.pw_uid}\n"
            )
            userdb = f"uid=dovecot gid=dovecot home={root / 'home'}/./%u"
        else:
            me = pwd.getpwuid(os.geteuid())
            users = (
                f"default_internal_user = {me.pw_name}\ndefault_login_user = {me.pw_name}\n"
                "service anvil {\n  chroot =\n}\n"
                f"first_valid_uid = {me.pw_uid}\n"
            )
            userdb = f"uid={me.pw_uid} gid={me.pw_gid} home={root / 'home'}/%u"
            login_chroot = "  chroot =\n"
        self.config.write_text(f"""\
base_dir = {root / 'run'}
state_dir = {root / 'state'}
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root / 'users'}
}}
userdb {{
  driver = static
  args = {userdb}
}}
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
""")

    def start(self, timeout: float = 15.0) -> Dovecot:
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends every child with it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}"
                                   f"\n{self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM Dovecot's process group: the master leaves its imap, log and stats processes
        running when it goes alone, so the connections it served would stay open."""
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # start_new_session: the group id is the master's pid
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(5)
        for _ in range(100):  # the children go shortly after the master; bounded
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def _log_tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""


def available() -> bool:
    return Path(DOVECOT).exists() and shutil.which(DOVECOT) is not None
