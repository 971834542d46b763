"""E-mail over TLS against a real aiosmtpd on loopback with a certificate made in the test:
STARTTLS on a plain port and TLS from the first byte, the login only inside TLS, the server's
certificate checked against the configured CA (and refused without it)."""

from __future__ import annotations

import pytest

from supportkpi.config import Email, Notify
from supportkpi.reports.delivery import DeliveryError, deliver, send_email
from tests.receivers import self_signed, smtp_server

# TLS from the first byte: aiosmtpd warns as it cannot tell; every command is inside TLS
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


def mail(port: int, **tls: object) -> Email:
    return Email(
        host="127.0.0.1",
        port=port,
        sender="reports@example.com",
        to=("head@example.com",),
        username="alerts",
        password_env="TEST_SMTP_PASSWORD",
        timeout=5,
        **tls,
    )


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_mail_goes_over_tls_with_the_configured_ca(certificates, monkeypatch, mode):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with smtp_server(tls=mode, context=certificates.server) as box:
        send_email(mail(box.port, ca_file=certificates.ca_file, **{mode: True}), "Hi", "Body")
    assert box.logins == ["alerts"]
    assert [m["Subject"] for m in box.messages] == ["Hi"]
    assert box.messages[0].get_payload().strip() == "Body"


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_a_certificate_no_trusted_ca_signed_is_refused(certificates, monkeypatch, mode):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with (
        smtp_server(tls=mode, context=certificates.server) as box,
        pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        send_email(mail(box.port, **{mode: True}), "Hi", "Body")
    assert box.messages == [] and box.logins == []


def test_a_server_requiring_starttls_gets_no_login_in_clear(certificates, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with smtp_server(tls="starttls", context=certificates.server) as box:
        notify = Notify(email={"m": mail(box.port)}, retries=1, retry_delay=0)
        payload = {"text": "Hi", "details": "Body"}
        sent, attempts, error = deliver(notify, "m", payload, sleep=lambda _: None)
    assert (sent, attempts) == (False, 2) and error and "AUTH extension not supported" in error
    assert box.messages == [] and box.logins == []
