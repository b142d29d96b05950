"""A local mail server (aiosmtpd) and a local WeCom group robot (http.server) for the notification
tests: they record what arrived, and fail on demand as a real server would."""

import json
import socket
import threading
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "villa-mailer", "mail-secret-2026"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the mail server accepted: one parsed email per message."""

    def __init__(self):
        self.password = SMTP_PASSWORD  # the password the server takes; change it to refuse logins
        self.emails = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.emails.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False)

    def texts(self) -> list[str]:
        """Each email's subject and body, decoded."""
        return [f"{email['Subject']}\n{email.get_content()}" for email in self.emails]

    def to(self) -> list[str]:
        return [email["To"] for email in self.emails]


@pytest.fixture
def mailbox():
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,  # a relay on this machine: villa allows no encryption only there
        auth_required=True,
    )
    controller.start()
    box.port = port
    yield box
    controller.stop()


class Robot:
    """The group robot: answers as WeCom does, or with `status` (500), or not at all (`hang`)."""

    def __init__(self):
        self.received = []  # the messages it took
        self.status = 200
        self.errcode = 0
        self.hang = threading.Event()  # set: hold the answer until `release` is set
        self.release = threading.Event()
        self.lock = threading.Lock()


def _handler(robot: Robot):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if robot.hang.is_set():
                robot.release.wait(10)
                return
            if robot.status == 200 and robot.errcode == 0:
                with robot.lock:
                    robot.received.append({**body, "key": parse_qs(urlsplit(self.path).query)["key"][0]})
            answer = json.dumps({"errcode": robot.errcode, "errmsg": "ok" if not robot.errcode else "no"})
            self.send_response(robot.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def robot():
    bot = Robot()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(bot))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bot.url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=office-robot-key-7f3a"
    bot.team_url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=team-robot-key-91bc"
    yield bot
    bot.release.set()
    server.shutdown()
    server.server_close()


def contents(robot: Robot) -> list[str]:
    return [post["text"]["content"] for post in robot.received]


def smtp_settings(port: int, host: str = "127.0.0.1") -> dict:
    return {
        "smtp": {
            "host": host,
            "port": port,
            "security": "none",
            "username": SMTP_USER,
            "sender": "villa@example.com",
        },
        "smtp_password": SMTP_PASSWORD,
    }
