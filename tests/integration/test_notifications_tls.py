"""STARTTLS, implicit TLS and login, against a real aiosmtpd server on loopback with a
certificate made for the test and trusted through ``PPFLOW_SMTP__CA_FILE``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import random
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ppflow.adapters.outbox import SqlOutbox
from ppflow.services.dispatcher import dispatch_once
from tests import factories
from tests.integration.conftest import FaultyHandler, free_port

USER, PASSWORD = "ppflow", "s3cret-from-the-environment"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ppflow test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Recorder(FaultyHandler):
    """Stores messages like the sink, and notes how each session was secured."""

    def __init__(self, maildir):
        super().__init__(maildir)
        self.sessions: list[tuple[bool, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((encrypted, bool(session.authenticated)))
        return await super().handle_DATA(server, session, envelope)


def check_login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


@pytest.fixture(params=["starttls", "implicit"])
def secure_server(request, tmp_path, certificate):
    cert_file, key_file = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    handler = Recorder(tmp_path / "maildir")
    port = free_port()
    common = dict(authenticator=check_login)
    if request.param == "starttls":
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            auth_require_tls=True,
            **common,
        )
    else:
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here all is TLS
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            ssl_context=context,
            auth_require_tls=False,
            **common,
        )
    controller.start()
    yield request.param, port, handler, cert_file
    controller.stop()


def configure(app, mode, port, cert_file, password):
    smtp = app.settings.smtp.model_copy(
        update=dict(
            host="127.0.0.1",
            port=port,
            starttls=mode == "starttls",
            use_tls=mode == "implicit",
            username=USER,
            password=password,
            ca_file=cert_file,
            timeout_seconds=5,
        )
    )
    app.settings = app.settings.model_copy(update={"smtp": smtp})


def dispatch(app):
    return dispatch_once(
        app.mail_ports(),
        clock=app.clock,
        policy=app.dispatch_policy(),
        rng=random.Random(1),
    )


def test_mail_goes_out_encrypted_and_logged_in_when_configured(sqlite_app, secure_server):
    mode, port, handler, cert_file = secure_server
    configure(sqlite_app, mode, port, cert_file, PASSWORD)
    referrer = factories.staff(sqlite_app, "provider")
    for _ in range(3):
        factories.referral(sqlite_app, referrer)

    report = dispatch(sqlite_app)

    assert report.sent == 3
    assert handler.sessions == [(True, True)] * 3
    assert handler.accepted == 3


def test_a_wrong_password_sends_nothing_and_keeps_every_row_for_later(sqlite_app, secure_server):
    mode, port, handler, cert_file = secure_server
    configure(sqlite_app, mode, port, cert_file, "not-the-password")
    referrer = factories.staff(sqlite_app, "provider")
    factories.referral(sqlite_app, referrer)

    report = dispatch(sqlite_app)

    assert (report.sent, report.retried) == (0, 1)
    assert handler.accepted == 0
    (entry,) = SqlOutbox(sqlite_app.session_factory).list()
    assert entry.status == "pending"
    assert "535" in entry.last_error
    assert "not-the-password" not in entry.last_error


def test_no_password_or_address_reaches_the_logs(sqlite_app, secure_server, caplog):
    mode, port, handler, cert_file = secure_server
    configure(sqlite_app, mode, port, cert_file, "hunter2-not-the-password")
    referrer = factories.staff(sqlite_app, "provider")
    factories.referral(sqlite_app, referrer, email="private.person@example.org")
    with caplog.at_level(logging.DEBUG):
        dispatch(sqlite_app)
        configure(sqlite_app, mode, port, cert_file, PASSWORD)
        assert dispatch(sqlite_app).sent == 0  # retried later, per the backoff
    assert caplog.records, "the dispatcher logs its passes"
    for secret in ("hunter2-not-the-password", PASSWORD, "private.person@example.org"):
        assert secret not in caplog.text
