"""A throw-away Dovecot IMAP server on loopback for tests (see shared notes on Dovecot).

One server per test session; each test gets its own user and therefore its own
mailbox, so tests never see each other's mail. Users are added to the passwd-file,
which Dovecot re-reads when it changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/run
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
imap_max_line_length = 1M
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""


@dataclass(frozen=True)
class Mailbox:
    """A test user's IMAP account on the throw-away server.

    ``port`` speaks plain IMAP (STARTTLS offered), ``tls_port`` IMAP over TLS; the
    server's certificate is issued for 127.0.0.1 by the test CA in ``ca_file``.
    """

    host: str
    port: int
    username: str
    password: str
    maildir: Path
    tls_port: int
    ca_file: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """Start, stop and add users to a private Dovecot instance under ``root``."""

    USERS_AT_START = 400

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port()
        self.ca_file = root / "ca.pem"
        self._free: list[tuple[str, str]] = []

    @staticmethod
    def available() -> str | None:
        """None when Dovecot can run here, else why not."""
        if not Path(DOVECOT).exists():
            return "dovecot is not installed (apt-get install dovecot-imapd)"
        try:
            import pwd

            pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError as exc:
            return f"the dovecot system users are missing: {exc}"
        return None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        (self.root / "run").mkdir(exist_ok=True)
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        shutil.chown(mail, "dovecot", "dovecot")
        self._write_users(self.USERS_AT_START)
        self._write_certificates()
        conf = self.root / "dovecot.conf"
        conf.write_text(CONFIG.format(d=self.root, port=self.port, tls_port=self.tls_port))
        subprocess.run(
            [DOVECOT, "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log_tail()}")

    def _write_certificates(self) -> None:
        import trustme

        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        server.private_key_pem.write_to_path(str(self.root / "server.key"))
        (self.root / "server.pem").write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        ca.cert_pem.write_to_path(str(self.ca_file))

    def log_tail(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _write_users(self, count: int) -> None:
        # Dovecot notices a changed passwd-file by its modification time, which has a
        # resolution of a second: users are made in bulk, never one right after another.
        new = [(f"u{uuid.uuid4().hex[:12]}", uuid.uuid4().hex) for _ in range(count)]
        with (self.root / "users").open("a") as fh:
            fh.writelines(f"{name}:{{PLAIN}}{password}::::::\n" for name, password in new)
        self._free.extend(new)

    def add_user(self) -> Mailbox:
        """A user nobody has used yet, with an empty mailbox."""
        if not self._free:
            time.sleep(1.1)
            self._write_users(self.USERS_AT_START)
            time.sleep(1.1)
        name, password = self._free.pop()
        return Mailbox(
            "127.0.0.1", self.port, name, password, self.root / "mail" / name, self.tls_port, self.ca_file
        )
