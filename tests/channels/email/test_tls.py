"""Mail over TLS: IMAP over TLS and with STARTTLS, SMTP with STARTTLS and AUTH, or TLS; bad
certificates and wrong passwords fail clearly and send or import nothing."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from hub.api.keys import ADAPTERS
from hub.channels.base import TransientChannelError
from hub.channels.email.compose import compose
from hub.channels.email.settings import load_email_settings
from hub.channels.email.smtp import deliver
from hub.config import ChannelConfig
from tests.channels.email.conftest import (
    CHANNEL,
    HubFactory,
    OtherClient,
    SmtpRecorder,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.channels.email.dovecot import Mailbox, free_port
from tests.channels.email.test_compose import SIGNER, outbound

# The implicit-TLS server allows AUTH without STARTTLS (the TLS is below it); aiosmtpd warns.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


async def test_imap_over_tls_with_the_servers_ca(
    email_hub: HubFactory, other_client: OtherClient, mailbox: Mailbox
) -> None:
    await other_client.append(plain_mail(1))
    client = await email_hub(imap_port=mailbox.tls_port, imap_security="tls", imap_ca_file=str(mailbox.ca_file))
    await wait_for_inbound(client, 1)


async def test_imap_with_starttls(email_hub: HubFactory, other_client: OtherClient, mailbox: Mailbox) -> None:
    await other_client.append(plain_mail(1))
    client = await email_hub(imap_security="starttls", imap_ca_file=str(mailbox.ca_file))
    await wait_for_inbound(client, 1)


async def test_an_untrusted_certificate_is_refused_and_nothing_is_imported(
    email_hub: HubFactory, other_client: OtherClient, mailbox: Mailbox
) -> None:
    await other_client.append(plain_mail(1))
    client = await email_hub(imap_port=mailbox.tls_port, imap_security="tls")  # system CAs only
    adapter = client.app[ADAPTERS][CHANNEL]

    async def failed() -> bool:
        error = adapter.status()["folders"].get("INBOX", {}).get("last_error") or ""
        return "CERTIFICATE_VERIFY_FAILED" in error or "certificate" in error.lower()

    await eventually(failed, what="a certificate error on the channel status")
    from tests.channels.email.conftest import count_inbound
    from tests.factories import services_of

    assert await count_inbound(services_of(client)) == 0


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"support" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_tls(tls_files: tuple[ssl.SSLContext, Path]) -> Iterator[tuple[int, int, SmtpRecorder, Path]]:
    """One server that requires STARTTLS and AUTH, one that speaks TLS from the first byte."""
    context, ca_file = tls_files
    recorder = SmtpRecorder()
    starttls = Controller(recorder, hostname="127.0.0.1", port=free_port(), tls_context=context,
                          require_starttls=True, auth_required=True, authenticator=_authenticator)
    # aiosmtpd does not see the TLS under it here: AUTH is allowed without STARTTLS.
    implicit = Controller(recorder, hostname="127.0.0.1", port=free_port(), ssl_context=context,
                          auth_required=True, auth_require_tls=False, authenticator=_authenticator)
    starttls.start()
    implicit.start()
    yield starttls.port, implicit.port, recorder, ca_file
    starttls.stop()
    implicit.stop()


def smtp_settings(port: int, security: str, ca_file: Path, password: str = "s3cret") -> Any:
    config = ChannelConfig(
        type="email", name="out", queue=None,
        options={"address": "support@example.com", "smtp_host": "127.0.0.1", "smtp_port": port,
                 "smtp_security": security, "smtp_username": "support", "smtp_password": password,
                 "smtp_ca_file": str(ca_file)},
    )
    settings = load_email_settings(config, max_attachment_bytes=1 << 20)
    assert settings.smtp is not None
    return settings.smtp


def mail() -> Any:
    return compose(outbound(), from_address="support@example.com", from_name=None, reply_to=None,
                   signer=SIGNER, domain="example.com")


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_smtp_over_tls_with_auth(smtp_tls: tuple[int, int, SmtpRecorder, Path], security: str) -> None:
    starttls_port, tls_port, recorder, ca_file = smtp_tls
    port = starttls_port if security == "starttls" else tls_port
    await deliver(mail(), smtp_settings(port, security, ca_file), sender="support@example.com",
                  recipient="erika@example.de")
    assert len(recorder.received) == 1 and recorder.received[0].rcpt_tos == ["erika@example.de"]


async def test_a_wrong_smtp_password_is_a_transient_failure_that_sends_nothing(
    smtp_tls: tuple[int, int, SmtpRecorder, Path],
) -> None:
    starttls_port, _tls_port, recorder, ca_file = smtp_tls
    with pytest.raises(TransientChannelError) as caught:
        await deliver(mail(), smtp_settings(starttls_port, "starttls", ca_file, password="wrong"),
                      sender="support@example.com", recipient="erika@example.de")
    assert "SMTP login failed" in caught.value.detail and "535" in caught.value.detail
    assert recorder.received == []


async def test_an_untrusted_smtp_certificate_sends_nothing(smtp_tls: tuple[int, int, SmtpRecorder, Path]) -> None:
    starttls_port, _tls_port, recorder, _ca_file = smtp_tls
    config = ChannelConfig(  # no smtp_ca_file: the test CA is not among the system's
        type="email", name="out", queue=None,
        options={"address": "support@example.com", "smtp_host": "127.0.0.1", "smtp_port": starttls_port,
                 "smtp_security": "starttls", "smtp_username": "support", "smtp_password": "s3cret"},
    )
    smtp = load_email_settings(config, max_attachment_bytes=1 << 20).smtp
    assert smtp is not None
    with pytest.raises(TransientChannelError) as caught:
        await deliver(mail(), smtp, sender="support@example.com", recipient="erika@example.de")
    assert "certificate" in caught.value.detail.lower() or "SSL" in caught.value.detail
    assert recorder.received == []
