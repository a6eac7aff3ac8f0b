"""A real MQTT broker for the tests, on a free port of 127.0.0.1.

mosquitto when it is installed (CI installs it with apt), else amqtt, the pure-Python broker in the
test extras, so ``pip install -e ".[test]" && python -m pytest`` covers MQTT on a fresh machine too.
``METERUI_TEST_BROKER=amqtt`` (or ``mosquitto``) forces one. The broker runs as a subprocess so a test
can kill and restart it on the same port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BROKER_ENV = "METERUI_TEST_BROKER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_kind() -> str:
    forced = os.environ.get(BROKER_ENV, "").strip().lower()
    if forced in ("amqtt", "mosquitto"):
        return forced
    return "mosquitto" if shutil.which("mosquitto") else "amqtt"


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


class Broker:
    """One broker process; ``users`` maps user names to passwords (none: anonymous access)."""

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str] | None = None,
        kind: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.kind = kind or broker_kind()
        self.workdir = workdir
        self.users = users or {}
        self.tls = tls
        """(certificate, key) in PEM: the listener speaks TLS."""
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._config = self._write_config()

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        passwd = self.workdir / "passwd"
        if self.kind == "mosquitto":
            lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
            if self.tls:
                lines += [f"certfile {self.tls[0]}", f"keyfile {self.tls[1]}"]
            if os.geteuid() == 0:
                lines.append("user root")  # else mosquitto switches to a user that cannot read workdir
            if self.users:
                passwd.write_text("")
                for user, password in self.users.items():
                    subprocess.run(
                        ["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True
                    )
                lines += ["allow_anonymous false", f"password_file {passwd}"]
            else:
                lines.append("allow_anonymous true")
            path = self.workdir / "mosquitto.conf"
            path.write_text("\n".join(lines) + "\n")
            return path
        plugins = ["plugins:"]
        if self.users:
            from pwdlib import PasswordHash

            hasher = PasswordHash.recommended()
            passwd.write_text("".join(f"{u}:{hasher.hash(p)}\n" for u, p in self.users.items()))
            plugins += ["  amqtt.plugins.authentication.FileAuthPlugin:", f"    password_file: {passwd}"]
        else:
            plugins += ["  amqtt.plugins.authentication.AnonymousAuthPlugin:", "    allow_anonymous: true"]
        listener = ["listeners:", "  default:", "    type: tcp", f"    bind: 127.0.0.1:{self.port}"]
        if self.tls:
            listener += ["    ssl: true", f"    certfile: {self.tls[0]}", f"    keyfile: {self.tls[1]}"]
        text = "\n".join([*listener, *plugins]) + "\n"
        path = self.workdir / "amqtt.yaml"
        path.write_text(text)
        return path

    def start(self) -> None:
        if self.kind == "mosquitto":
            cmd = ["mosquitto", "-c", str(self._config)]
        else:
            cmd = [
                sys.executable,
                "-c",
                "from amqtt.scripts.broker_script import main; main()",
                "-c",
                str(self._config),
            ]
        log = open(self.workdir / "broker.log", "ab")  # noqa: SIM115 - handed to the process
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        if not wait_for_port(self.port):
            self.stop()
            raise RuntimeError(
                f"{self.kind} did not start on port {self.port}: "
                f"{(self.workdir / 'broker.log').read_text(errors='replace')[-2000:]}"
            )

    def stop(self, sig: int = signal.SIGKILL) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, user: str | None = None, password: str | None = None, base: str = "") -> str:
        auth = ""
        if user:
            auth = user + (f":{password}" if password is not None else "") + "@"
        return f"mqtt://{auth}127.0.0.1:{self.port}" + (f"/{base}" if base else "")


def make_certificates(workdir: Path) -> tuple[Path, Path, Path] | None:
    """A throw-away CA and a server certificate for 127.0.0.1 (CA, cert, key), or None without openssl."""
    if not shutil.which("openssl"):
        return None
    ca, ca_key = workdir / "ca.pem", workdir / "ca.key"
    cert, key, csr, ext = workdir / "server.pem", workdir / "server.key", workdir / "server.csr", workdir / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            "-subj",
            "/CN=meterui test CA",
        ],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True, cwd=workdir)
    return ca, cert, key
