"""Optional wizard step (issue #11): publish the readings to an MQTT broker (off unless switched on).

The password has its own masked field (or comes from ``METERUI_MQTT_PASSWORD`` at run time) and is put
into the saved URL, which only the 0600 config file holds; everything shown uses
:func:`meterui.export.url.mask_url`. *Test connection* connects with paho in a thread worker with a short
timeout and says in one line whether it worked.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker, WorkerState

from meterui.config import Config
from meterui.export.url import PASSWORD_ENV, MqttConfigError, MqttSettings, parse_mqtt_url
from meterui.presets import Preset
from meterui.widgets.setup.base import WizardStep

CONNECT_TIMEOUT = 5.0
"""Seconds the connection test waits for the broker's answer."""


def split_password(url: str) -> tuple[str, str]:
    """(the URL without its password, the password or ``""``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url, ""
    if password is None:
        return url, ""
    netloc = parts.netloc
    at = netloc.rfind("@")
    user = netloc[:at].split(":", 1)[0]
    return parts._replace(netloc=f"{user}@{netloc[at + 1 :]}").geturl(), unquote(password)


def join_password(url: str, password: str) -> str:
    """``url`` with ``password`` put after its user name (unchanged when there is no password or no user)."""
    if not password:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    at = parts.netloc.rfind("@")
    if at < 0:
        return url  # no user name: parse_mqtt_url says so (without quoting the password)
    user = parts.netloc[:at].split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{quote(password, safe='')}@{parts.netloc[at + 1 :]}").geturl()


def try_connection(settings: MqttSettings, timeout: float = CONNECT_TIMEOUT) -> tuple[bool, str]:
    """Connect, wait for the broker's answer, disconnect: (worked, one line without the password)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    where = settings.describe()
    answered = threading.Event()
    result: list[Any] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)

    def on_connect(client: mqtt.Client, userdata: object, flags: Any, reason: Any, properties: Any = None) -> None:
        result.append(reason)
        answered.set()

    client.on_connect = on_connect
    client.on_connect_fail = lambda client, userdata: answered.set()
    try:
        if settings.tls:
            client.tls_set(ca_certs=settings.ca_file)
        client.connect(settings.host, settings.port, keepalive=10)
    except (OSError, ValueError) as exc:
        tls = " (or TLS failed: check the CA file)" if settings.tls else ""
        return False, f"Cannot reach {where}: {getattr(exc, 'strerror', None) or exc}{tls}"
    client.loop_start()
    try:
        answered.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    if not result:
        return False, f"No answer from {where} within {timeout:g} s (is it an MQTT broker?)"
    if result[0].is_failure:
        return False, f"{where} refused the connection: {result[0]} (check the user name and password)"
    return True, f"Connected to {where}"


class MqttStep(WizardStep):
    STEP_ID: ClassVar[str] = "mqtt"
    LABEL: ClassVar[str] = "MQTT"
    QUESTION: ClassVar[str] = "Publish the readings to an MQTT broker? (optional)"

    class Tested(Message):
        def __init__(self, ok: bool, text: str) -> None:
            super().__init__()
            self.ok = ok
            self.text = text

    def compose(self) -> ComposeResult:
        cfg = self.initial
        url, password = split_password(cfg.mqtt_url or "")
        yield Checkbox(
            "Publish to an MQTT broker (Home Assistant discovery)", bool(cfg.mqtt_url), id="mqtt-on", compact=True
        )
        with Grid(id="mqtt-grid"):
            yield Label("Broker URL")
            yield Input(url, placeholder="mqtt://user@host:1883/meterui or mqtts://…", compact=True, id="mqtt-url")
            yield Label("Password")
            yield Input(
                password,
                password=True,
                compact=True,
                id="mqtt-password",
                placeholder=f"empty: none, or from ${PASSWORD_ENV}",
            )
            yield Label("CA file")
            yield Input(
                cfg.mqtt_ca_file or "", placeholder="mqtts only; empty: the system CAs", compact=True, id="mqtt-ca"
            )
            yield Label("Discovery")
            yield Input(
                cfg.mqtt_discovery_prefix or "", placeholder="empty: no discovery", compact=True, id="mqtt-prefix"
            )
            yield Label("Interval (s)")
            yield Input(
                f"{cfg.mqtt_interval:g}",
                placeholder="0: every message",
                compact=True,
                id="mqtt-interval",
                restrict=r"[0-9.]*",
            )
        yield Static("", id="mqtt-error", classes="hint")
        with Horizontal(id="mqtt-test-row"):
            yield Button("Test connection", id="mqtt-test")
            yield Static("", id="mqtt-test-result")

    def on_mount(self) -> None:
        self._enable(self.enabled)

    @property
    def enabled(self) -> bool:
        return self.query_one("#mqtt-on", Checkbox).value

    def shown(self, preset: Preset, config: Config) -> None:
        self.query_one("#mqtt-url" if self.enabled else "#mqtt-on").focus()

    def _enable(self, on: bool) -> None:
        self.query_one("#mqtt-grid").disabled = not on
        self.query_one("#mqtt-test", Button).disabled = not on
        if not on:
            self.query_one("#mqtt-error", Static).update("Off: nothing is published. Press Next to skip.")
        else:
            self.validate()

    @on(Checkbox.Changed, "#mqtt-on")
    def _toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._enable(event.value)

    def url(self) -> str:
        """The full URL to save (the password inside; never shown)."""
        url = self.query_one("#mqtt-url", Input).value.strip()
        return join_password(url, self.query_one("#mqtt-password", Input).value)

    def _fields(self) -> tuple[str | None, str | None, float | None]:
        ca = self.query_one("#mqtt-ca", Input).value.strip() or None
        prefix = self.query_one("#mqtt-prefix", Input).value.strip() or None
        text = self.query_one("#mqtt-interval", Input).value.strip() or "0"
        try:
            interval: float | None = float(text)
        except ValueError:
            interval = None
        return ca, prefix, interval

    def settings(self) -> MqttSettings:
        """The checked settings; :class:`MqttConfigError` (one line, no password) when they cannot work."""
        ca, prefix, interval = self._fields()
        if interval is None:
            raise MqttConfigError("the MQTT interval must be 0 or a positive number of seconds")
        settings = parse_mqtt_url(
            self.url(),
            ca_file=ca,
            discovery_prefix=prefix,
            interval=interval,
            qos=self.initial.mqtt_qos,
            environ=dict(os.environ),
        )
        if self.query_one("#mqtt-password", Input).value and settings.username is None:
            raise MqttConfigError(f"an MQTT password needs a user name (mqtt://user@{settings.host}/…)")
        return settings

    def validate(self) -> bool:
        out = self.query_one("#mqtt-error", Static)
        if not self.enabled:
            return True
        if not self.query_one("#mqtt-url", Input).value.strip():  # just ticked: ask, do not call it an error
            out.set_classes("error")
            out.update("Type the broker's URL: mqtt://host or mqtt://user@host:1883/meterui (mqtts:// for TLS).")
            return False
        try:
            settings = self.settings()
        except MqttConfigError as exc:
            out.set_classes("error")
            out.update(f"✗ {str(exc)[:1].upper()}{str(exc)[1:]}")
            return False
        out.set_classes("hint")
        secret = " · password set" if settings.password else ""
        out.update(f"Publishes to {settings.describe()}{secret}")
        return True

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.is_mounted:
            self.query_one("#mqtt-test-result", Static).update("")
            self.validate()

    def leave(self) -> bool:
        if not self.validate():
            self.query_one("#mqtt-url", Input).focus()
            return False
        return True

    def apply(self, config: Config) -> Config:
        if not self.enabled:
            return replace(config, mqtt_url=None)
        ca, prefix, interval = self._fields()
        return replace(
            config,
            mqtt_url=self.url() or None,
            mqtt_ca_file=ca,
            mqtt_discovery_prefix=prefix,
            mqtt_interval=interval or 0.0,
        )

    # -- the connection test -------------------------------------------------------------------------
    @on(Button.Pressed, "#mqtt-test")
    def _test_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if not self.validate():
            return
        settings = self.settings()
        self.query_one("#mqtt-test", Button).disabled = True
        result = self.query_one("#mqtt-test-result", Static)
        result.set_classes("hint")
        result.update(f"Connecting to {settings.describe()}…")
        self._test(settings)

    @work(thread=True, exclusive=True, group="mqtt-test", exit_on_error=False)
    def _test(self, settings: MqttSettings) -> None:
        ok, text = try_connection(settings)
        self.post_message(self.Tested(ok, text))

    def on_mqtt_step_tested(self, message: Tested) -> None:
        self.query_one("#mqtt-test", Button).disabled = not self.enabled
        result = self.query_one("#mqtt-test-result", Static)
        result.set_classes("good" if message.ok else "error")
        result.update(("✓ " if message.ok else "✗ ") + message.text)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "mqtt-test":
            self.on_mqtt_step_tested(self.Tested(False, f"The test failed: {type(event.worker.error).__name__}"))
