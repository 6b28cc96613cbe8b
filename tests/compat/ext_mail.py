"""Flask-Mail on kolben: ``Mail(app)`` reading ``MAIL_*`` config, messages built
in views (default sender, HTML body from a template, an attachment),
``MAIL_SUPPRESS_SEND`` with the outbox recorded by ``record_messages()`` and the
``email_dispatched`` signal, one connection for several messages, bad headers
refused, and real delivery to an SMTP server on 127.0.0.1 (aiosmtpd).

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import email
import email.policy
import threading
import typing as t
from collections.abc import Iterator

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_mail import BadHeaderError, Mail, Message, email_dispatched

from serving import HOST, free_port

WELCOME = "<h1>Welcome, {{ name }}!</h1><p>Your code: {{ code }}</p>"


def make_app(**config: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="flask-mail on kolben",
        MAIL_DEFAULT_SENDER=("Kolben", "noreply@kolben.example"),
        **config,
    )
    mail = Mail(app)
    app.extensions["test_mail"] = mail

    @app.post("/signup")
    def signup() -> tuple[dict[str, t.Any], int]:
        data = flask.request.get_json()
        message = Message(
            subject=f"Welcome {data['name']}",
            recipients=[data["email"]],
            body=f"Hello {data['name']}",
            html=flask.render_template_string(WELCOME, name=data["name"], code="1234"),
        )
        message.attach("terms.txt", "text/plain", b"Be nice.")
        mail.send(message)
        return {"sent": True}, 201

    @app.post("/digest")
    async def digest() -> dict[str, int]:
        names = flask.request.get_json()
        with mail.connect() as connection:
            for name in names:
                connection.send(
                    Message(f"Digest for {name}", recipients=[f"{name}@example.com"], body="-")
                )
        return {"sent": len(names)}

    @app.post("/later")
    def later() -> tuple[str, int]:
        # The Flask Mega-Tutorial's way: send from a thread, in an app context
        # of the real app object (and, here, the request's context copied).
        message = Message("Later", recipients=["ada@example.com"], body="sent from a thread")

        def send(app: flask.Flask) -> None:
            with app.app_context():
                mail.send(message)

        @flask.copy_current_request_context
        def send_with_request() -> None:
            mail.send(Message(f"From {flask.request.path}", recipients=["b@example.com"]))

        threads = [
            threading.Thread(target=send, args=(flask.current_app._get_current_object(),)),
            threading.Thread(target=send_with_request),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        return "queued", 202

    @app.post("/bad")
    def bad() -> tuple[str, int]:
        try:
            mail.send_message(subject="hi\r\nBcc: everyone@example.com", recipients=["a@b.c"])
        except BadHeaderError:
            return "refused", 400
        return "sent", 200

    return app


@pytest.fixture
def app() -> flask.Flask:
    # TESTING=True: MAIL_SUPPRESS_SEND defaults to it, nothing leaves the process.
    return make_app()


def test_outbox_records_messages_sent_from_a_view(app: flask.Flask, client: t.Any) -> None:
    mail: Mail = app.extensions["test_mail"]
    assert app.extensions["mail"].suppress is True
    with mail.record_messages() as outbox:
        response = client.post("/signup", json={"name": "Ada", "email": "ada@example.com"})
        assert response.status_code == 201
    [message] = outbox
    assert message.subject == "Welcome Ada"
    assert message.sender == "Kolben <noreply@kolben.example>"
    assert message.recipients == ["ada@example.com"]
    assert message.body == "Hello Ada"
    assert message.html == "<h1>Welcome, Ada!</h1><p>Your code: 1234</p>"
    [attachment] = message.attachments
    assert (attachment.filename, attachment.data) == ("terms.txt", b"Be nice.")
    with app.app_context():  # as_bytes() reads the app's MAIL_ASCII_ATTACHMENTS
        raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "Kolben <noreply@kolben.example>"
    assert parsed["To"] == "ada@example.com"


def test_one_connection_for_many_messages(app: flask.Flask, client: t.Any) -> None:
    mail: Mail = app.extensions["test_mail"]
    with mail.record_messages() as outbox:
        assert client.post("/digest", json=["ada", "grace", "barbara"]).json == {"sent": 3}
    assert [m.recipients for m in outbox] == [
        ["ada@example.com"],
        ["grace@example.com"],
        ["barbara@example.com"],
    ]


def test_sent_from_threads(app: flask.Flask, client: t.Any) -> None:
    mail: Mail = app.extensions["test_mail"]
    with mail.record_messages() as outbox:
        assert client.post("/later").status_code == 202
    assert sorted(m.subject for m in outbox) == ["From /later", "Later"]


def test_email_dispatched_signal(app: flask.Flask, client: t.Any) -> None:
    seen: list[tuple[t.Any, str]] = []

    def dispatched(sender: flask.Flask, message: Message) -> None:
        seen.append((sender, message.subject))

    with email_dispatched.connected_to(dispatched):
        client.post("/signup", json={"name": "Grace", "email": "grace@example.com"})
    assert seen == [(app, "Welcome Grace")]


def test_bad_headers_are_refused(app: flask.Flask, client: t.Any) -> None:
    mail: Mail = app.extensions["test_mail"]
    with mail.record_messages() as outbox:
        assert client.post("/bad").text == "refused"
    assert outbox == []


def test_config_keys(app: flask.Flask) -> None:
    app = make_app(MAIL_SERVER="smtp.example", MAIL_PORT=2525, MAIL_USE_TLS=True)
    state = app.extensions["mail"]
    assert (state.server, state.port, state.use_tls) == ("smtp.example", 2525, True)
    with app.app_context():
        # Outside a request, inside the app context: the default sender applies.
        assert Message("x", recipients=["a@b.c"]).sender == "Kolben <noreply@kolben.example>"


# -- real delivery --------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[t.Any]]]:
    """An SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that keeps what
    it receives."""
    from aiosmtpd.controller import Controller

    received: list[t.Any] = []

    class Keep:
        async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Keep(), hostname=HOST, port=port, ready_timeout=10)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_real_delivery_over_smtp(door: str, smtp_server: tuple[int, list[t.Any]]) -> None:
    port, received = smtp_server
    app = make_app(MAIL_SERVER=HOST, MAIL_PORT=port, MAIL_SUPPRESS_SEND=False)
    if door == "asgi" and not hasattr(app, "asgi_test_client"):
        pytest.skip("the real Flask has no ASGI door")
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    response = client.post("/signup", json={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 201
    [envelope] = received
    assert envelope.mail_from == "noreply@kolben.example"
    assert envelope.rcpt_tos == ["ada@example.com"]
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert parsed["Subject"] == "Welcome Ada"
    assert parsed.get_body(("html",)).get_content().strip() == (
        "<h1>Welcome, Ada!</h1><p>Your code: 1234</p>"
    )
