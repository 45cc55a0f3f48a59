"""The e-mail provider fails during a feedback release: Django's real SMTP backend talks to a small SMTP server on
127.0.0.1 that hangs up or refuses some recipients the first time. The failures are logged and marked failed, the
organizer's retry sends each of them exactly once, and the e-mails that went out the first time never go again."""

import logging
import socketserver
import threading
from collections import Counter
from email import message_from_bytes
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from reviews import feedback
from reviews.models import FeedbackEmail
from tests import test_feedback

pytestmark = pytest.mark.django_db
# The fixtures of the feedback tests: two submissions (alice and bob's, charlie's), reviewed, awards confirmed.
judges, png, world = test_feedback.judges, test_feedback.png, test_feedback.world


class FakeSMTP(socketserver.ThreadingTCPServer):
    """Speaks enough SMTP for smtplib. ``faults`` maps a recipient to what happens the first times it is sent:
    "hang up" (the connection drops at RCPT TO), "refuse" (451 at RCPT TO), "drop after data" (the message is
    received whole, then the connection drops before the 250 reply), each consumed once per entry."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, faults: dict[str, list[str]], *, down_for: int = 0):
        super().__init__(("127.0.0.1", 0), _Session)
        self.down_for = (
            down_for  # this many connections are dropped before the greeting (the provider is down)
        )
        self.faults = {to: list(kinds) for to, kinds in faults.items()}
        self.received: list[tuple[list[str], bytes]] = []  # (recipients, message) of each accepted message
        self.lock = threading.Lock()

    def fault(self, to: str) -> str | None:
        with self.lock:
            kinds = self.faults.get(to)
            return kinds.pop(0) if kinds else None

    def to(self) -> Counter:
        with self.lock:
            return Counter(to for recipients, _ in self.received for to in recipients)

    def message_ids(self, to: str) -> list[str]:
        with self.lock:
            return [
                message_from_bytes(m)["Message-ID"] for recipients, m in self.received if to in recipients
            ]


class _Session(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: FakeSMTP = self.server
        with server.lock:
            down = server.down_for > 0
            server.down_for -= down
        if down:
            return
        self.reply("220 fake.example ESMTP")
        recipients: list[str] = []
        pending: str | None = None
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 fake.example")
            elif verb == "MAIL":
                recipients, pending = [], None
                self.reply("250 OK")
            elif verb == "RCPT":
                to = command.split(":", 1)[1].strip().strip("<>")
                fault = server.fault(to)
                if fault == "hang up":
                    return  # the connection drops
                if fault == "refuse":
                    self.reply("451 4.3.0 Mailbox temporarily unavailable")
                    continue
                pending = pending or fault
                recipients.append(to)
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body += chunk[1:] if chunk.startswith(b"..") else chunk
                with server.lock:
                    server.received.append((recipients, body))
                if pending == "drop after data":
                    return  # delivered, but the sender never hears so
                self.reply("250 OK: queued")
            elif verb == "RSET":
                recipients, pending = [], None
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp(settings):
    """Start a FakeSMTP with the given faults and point Django's SMTP backend at it."""
    servers = []

    def start(down_for: int = 0, **faults) -> FakeSMTP:
        server = FakeSMTP(
            {to.replace("_", "@", 1) + ".org": kinds for to, kinds in faults.items()}, down_for=down_for
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _retry(client, round, email, capture):
    with capture(execute=True):
        return client.post(reverse("feedback_retry", args=[round.pk, email.pk]))


def test_failed_feedback_emails_are_logged_and_retried_and_none_is_sent_twice(
    client, world, olga, open_round, smtp, caplog, django_capture_on_commit_callbacks
):
    server = smtp(alice_example=["hang up"], bob_example=["refuse"])
    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        outcome = feedback.release_feedback(round=open_round, by=olga)
    assert outcome.queued == 3
    assert server.to() == {"charlie@example.org": 1}

    emails = {e.to: e for e in FeedbackEmail.objects.all()}
    assert {to: e.status for to, e in emails.items()} == {
        "alice@example.org": "failed",
        "bob@example.org": "failed",
        "charlie@example.org": "sent",
    }
    assert emails["alice@example.org"].error.startswith("SMTPServerDisconnected")
    assert emails["bob@example.org"].error.startswith("SMTPRecipientsRefused")
    assert "451" in emails["bob@example.org"].error
    failures = [r for r in caplog.records if r.getMessage() == "feedback e-mail not sent"]
    assert sorted((r.levelname, r.recipient) for r in failures) == [
        ("WARNING", "alice@example.org"),
        ("WARNING", "bob@example.org"),
    ]
    assert all(r.exc_info is not None and r.feedback_email == emails[r.recipient].pk for r in failures)

    # Releasing again (the organizer presses the button twice) sends neither the sent nor the failed ones.
    with django_capture_on_commit_callbacks(execute=True):
        again = feedback.release_feedback(round=open_round, by=olga)
    assert (again.created, again.queued, again.already) == (0, 0, 3)
    assert server.to() == {"charlie@example.org": 1}

    # The organizer retries each failed e-mail from the log (the provider is back): each goes out once.
    client.force_login(olga)
    for to in ("alice@example.org", "bob@example.org"):
        assert _retry(client, open_round, emails[to], django_capture_on_commit_callbacks).status_code == 302
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}
    for to, email in emails.items():
        email.refresh_from_db()
        assert (email.status, email.error) == ("sent", ""), to
        assert email.attempts == (1 if to.startswith("charlie") else 2)
        assert server.message_ids(to) == [email.provider_id]

    # Retrying again, or retrying an e-mail that was sent, sends nothing.
    for email in emails.values():
        _retry(client, open_round, email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        feedback.release_feedback(round=open_round, by=olga)
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}


def test_a_retry_after_a_lost_reply_reuses_the_message_id_so_the_copies_are_one_message(
    client, world, olga, open_round, smtp, django_capture_on_commit_callbacks
):
    """The server took the whole message but the connection dropped before its reply: the sender cannot know it
    arrived, so the e-mail is marked failed. Its retry carries the same Message-ID, by which mail systems and
    readers know the second copy for the first one."""
    server = smtp(charlie_example=["drop after data"])
    with django_capture_on_commit_callbacks(execute=True):
        feedback.release_feedback(round=open_round, by=olga)
    email = FeedbackEmail.objects.get(to="charlie@example.org")
    assert email.status == "failed" and email.error.startswith("SMTPServerDisconnected")
    [first_id] = server.message_ids("charlie@example.org")
    assert email.provider_id == first_id  # recorded before sending

    client.force_login(olga)
    _retry(client, open_round, email, django_capture_on_commit_callbacks)
    email.refresh_from_db()
    assert email.status == "sent"
    assert server.message_ids("charlie@example.org") == [first_id, first_id]
    assert email.provider_id == first_id


def test_after_an_outage_every_failed_email_is_retried_at_once_and_each_arrives_once(
    world, olga, open_round, smtp, caplog, django_capture_on_commit_callbacks
):
    server = smtp(down_for=3)  # every connection of the release is dropped before the greeting
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        feedback.release_feedback(round=open_round, by=olga)
    assert server.to() == {}
    assert set(FeedbackEmail.objects.values_list("status", flat=True)) == {"failed"}
    assert len([r for r in caplog.records if r.getMessage() == "feedback e-mail not sent"]) == 3

    def retry_failed(*options) -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "release_feedback", "--round", open_round.name, "--retry-failed", *options, stdout=out
            )
        return out.getvalue().strip()

    assert retry_failed("--dry-run") == "would queue 3 failed e-mails again"
    assert server.to() == {}
    assert retry_failed() == "queued 3 failed e-mails again"
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}
    assert set(FeedbackEmail.objects.values_list("status", "attempts")) == {("sent", 2)}
    assert retry_failed() == "queued 0 failed e-mails again"
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}


def test_the_feedback_log_retries_every_failed_email_with_one_button(
    client, world, olga, open_round, smtp, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    server = smtp(down_for=3)
    with django_capture_on_commit_callbacks(execute=True):
        feedback.release_feedback(round=open_round, by=olga)
    client.force_login(olga)
    log = reverse("feedback_log", args=[open_round.pk])
    assert "Retry all failed" in client.get(log).content.decode()

    retry = reverse("feedback_retry_failed", args=[open_round.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry, follow=True)
    assert "3 failed e-mails queued again." in response.content.decode()
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(retry, follow=True).content.decode()
    assert "nothing to retry" in again and "Retry all failed" not in again
    assert server.to() == {"alice@example.org": 1, "bob@example.org": 1, "charlie@example.org": 1}
