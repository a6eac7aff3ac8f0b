"""The MQTT exporter against a real broker (mosquitto, or amqtt from the test extras; see tests/broker.py).

Messages are real decoded ones: frames built with the project's encoders, decoded by the decoder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterui.export.mqtt import MqttExporter
from meterui.export.topics import slug, state_payload
from meterui.export.url import MqttConfigError, mask_url, parse_mqtt_url
from meterui.protocol import encode as E
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.message import Message
from meterui.sinks.base import Sink
from tests.broker import Broker, free_port, make_certificates
from tests.conftest import TEST_KEY, aidon_body, encrypted_mbus, kamstrup_body, plain_hdlc
from tests.mqttutil import Gate, Subscriber

KAMSTRUP_ID = "5706567000000000"
AIDON_ID = "7359992890941742"
ECHONET_SENDER = "fe80_0000_0000_0000_02ff_eedd_ccbb_aa99"


# -- real decoded messages -------------------------------------------------------------------------
def hdlc_message() -> Message:
    (msg,) = decode_bytes(plain_hdlc(kamstrup_body()))
    assert msg.ok
    return msg


def mbus_message(ic: int = 7) -> Message:
    (msg,) = decode_bytes(b"".join(encrypted_mbus(aidon_body(), ic=ic)), key=TEST_KEY)
    assert msg.ok and msg.encrypted
    return msg


def echonet_message(power: int = 628) -> Message:
    frame = E.echonet_frame(
        [
            (0xE7, power.to_bytes(4, "big")),
            (0xE0, (12345).to_bytes(4, "big")),
            (0xE1, b"\x01"),
            (0xD3, (1).to_bytes(4, "big")),
        ]
    )
    (msg,) = decode_bytes(E.erxudp_line(frame), fmt="skstack")
    assert msg.ok
    return msg


def hdlc_power(power: int, received: float) -> Message:
    body = E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.0.0.5.255"),
        E.visible(KAMSTRUP_ID),
        E.obis("1.1.1.7.0.255"),
        E.u32(power),
    )
    (msg,) = decode_bytes(plain_hdlc(body))
    msg.received = received
    return msg


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, line: str) -> None:
        with self.changed:
            self.lines.append(line)
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout)


def exporter(url: str, log: Log | None = None, **kw: object) -> MqttExporter:
    opts = {k: kw.pop(k) for k in ("discovery_prefix", "interval", "qos", "environ", "ca_file") if k in kw}
    settings = parse_mqtt_url(url, **opts)  # type: ignore[arg-type]
    exp = MqttExporter(settings, log=log, **kw)  # type: ignore[arg-type]
    exp.start()
    return exp


# -- URL ---------------------------------------------------------------------------------------------
def test_url_parsing_defaults_and_parts() -> None:
    s = parse_mqtt_url("mqtt://broker.local", environ={})
    assert (s.host, s.port, s.tls, s.username, s.password, s.base_topic) == (
        "broker.local",
        1883,
        False,
        None,
        None,
        "meterui",
    )
    s = parse_mqtt_url("mqtts://ha:s%40cret@10.0.0.2:8884/home/meter/", environ={})
    assert (s.host, s.port, s.tls, s.username, s.password, s.base_topic) == (
        "10.0.0.2",
        8884,
        True,
        "ha",
        "s@cret",
        "home/meter",
    )
    assert parse_mqtt_url("mqtts://h", environ={}).port == 8883


def test_password_from_the_environment_and_never_shown() -> None:
    s = parse_mqtt_url("mqtt://ha@h", environ={"METERUI_MQTT_PASSWORD": "hunter2"})
    assert s.password == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in s.describe()
    assert parse_mqtt_url("mqtt://ha:fromurl@h", environ={"METERUI_MQTT_PASSWORD": "x"}).password == "fromurl"
    assert mask_url("mqtt://ha:hunter2@h:1/x") == "mqtt://ha:***@h:1/x"


@pytest.mark.parametrize(
    ("url", "kw", "words"),
    [
        ("http://h", {}, "mqtt:// or mqtts://"),
        ("mqtt://", {}, "no host"),
        ("mqtt://u:hunter2@h:99999", {}, "bad port"),
        ("mqtt://u:hunter2@h/a/+/b", {}, "must not contain"),
        ("mqtt://h", {"ca_file": "/nonexistent/ca.pem"}, "needs an mqtts"),
        ("mqtts://h", {"ca_file": "/nonexistent/ca.pem"}, "CA file not found"),
        ("mqtt://h", {"qos": 3}, "QoS"),
        ("mqtt://h", {"interval": -1.0}, "interval"),
        ("mqtt://:hunter2@h", {}, "needs a user name"),
    ],
)
def test_bad_settings_are_one_line_errors_without_the_password(url: str, kw: dict, words: str) -> None:
    with pytest.raises(MqttConfigError) as err:
        parse_mqtt_url(url, environ={}, **kw)
    text = str(err.value)
    assert words in text and "\n" not in text and "hunter2" not in text


# -- topics and payloads ------------------------------------------------------------------------------
def test_slug_and_state_payload() -> None:
    assert slug("FE80:0000:02FF/AB c") == "fe80_0000_02ff_ab_c"
    assert slug("Meter-1_x") == "meter-1_x"
    msg = hdlc_message()
    state = state_payload(msg, 1700000000.0)
    assert state["time"] == "2023-11-14T22:13:20.000Z"
    assert state["clock"] == msg.clock and state["clock"].startswith("2024-03-05T12:34:56")
    assert state["readings"] == {
        "list_id": "Kamstrup_V0001",
        "meter_id": KAMSTRUP_ID,
        "meter_type": "6841121BN243101040",
        "active_power_import": 2824,
        "current_l1": 10.91,
        "voltage_l1": 230,
        "active_energy_import": 44228000,
    }


# -- against the broker -----------------------------------------------------------------------------------
def _run(broker: Broker, base: str, messages: list[Message], prefix: str, configs: int) -> Subscriber:
    """Publish ``messages`` and return a subscriber that saw the states live and the retained configs."""
    live = Subscriber(broker.port, [f"{base}/#"])
    exp = exporter(broker.url(base=base), discovery_prefix=prefix)
    try:
        exp.on_messages(messages, None)
        assert exp.flush(20)
        live.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= len(messages))
    finally:
        exp.close()
    late = Subscriber(broker.port, [f"{prefix}/#", f"{base}/status"])  # retained only
    late.wait_for(
        lambda ms: (
            any(m.topic == f"{base}/status" for m in ms)
            and sum(m.topic.startswith(f"{prefix}/") for m in ms) >= configs
        )
    )
    late.messages += [m for m in live.messages if m.topic.endswith("/state")]
    live.close()
    late.close()
    return late


def _configs(sub: Subscriber, prefix: str, meter: str) -> dict[str, dict]:
    head = f"{prefix}/sensor/meterui_{meter}/"
    out = {}
    for m in sub.messages:
        if m.topic.startswith(head):
            assert m.retain, m.topic
            assert m.topic.endswith("/config")
            out[m.topic[len(head) : -len("/config")]] = m.json()
    return out


def test_hdlc_list_state_and_discovery(broker: Broker) -> None:
    sub = _run(broker, "t_hdlc", [hdlc_message()], prefix="disc_hdlc", configs=4)
    (state,) = [m for m in sub.messages if m.topic == f"t_hdlc/{KAMSTRUP_ID}/state"]
    assert not state.retain
    assert state.json()["readings"]["active_power_import"] == 2824
    assert state.json()["readings"]["active_energy_import"] == 44228000  # Wh: the JSON contract's unit
    (status,) = sub.on("t_hdlc/status")
    assert status.retain and status.payload == b"offline"  # closed cleanly: offline, retained
    configs = _configs(sub, "disc_hdlc", KAMSTRUP_ID)
    assert set(configs) == {"active_power_import", "current_l1", "voltage_l1", "active_energy_import"}
    power, energy = configs["active_power_import"], configs["active_energy_import"]
    assert (power["device_class"], power["state_class"], power["unit_of_measurement"]) == ("power", "measurement", "W")
    assert (energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == (
        "energy",
        "total_increasing",
        "kWh",
    )
    assert "* 0.001" in energy["value_template"] and "active_energy_import" in energy["value_template"]
    assert configs["voltage_l1"]["device_class"] == "voltage"
    assert configs["current_l1"]["device_class"] == "current"
    for cfg in configs.values():
        assert cfg["state_topic"] == f"t_hdlc/{KAMSTRUP_ID}/state"
        assert cfg["availability_topic"] == "t_hdlc/status"
        assert cfg["device"] == {
            "identifiers": [f"meterui_{KAMSTRUP_ID}"],
            "name": f"Meter {KAMSTRUP_ID}",
            "manufacturer": "Kamstrup",
            "model": "6841121BN243101040",
        }
    assert len({cfg["unique_id"] for cfg in configs.values()}) == 4


def test_encrypted_mbus_meter_is_named_by_its_number(broker: Broker) -> None:
    sub = _run(broker, "t_mbus", [mbus_message(7), mbus_message(8)], prefix="disc_mbus", configs=4)
    states = [m.json() for m in sub.messages if m.topic == f"t_mbus/{AIDON_ID}/state"]
    assert len(states) == 2
    assert states[0]["readings"]["voltage_l1"] == 230.1 and states[0]["readings"]["current_l1"] == 1.3
    configs = _configs(sub, "disc_mbus", AIDON_ID)
    assert set(configs) == {"active_power_import", "current_l1", "voltage_l1", "active_energy_import"}
    assert configs["active_power_import"]["device"]["manufacturer"] == "Kamstrup"  # FLAG id KAM of the system title


def test_broute_echonet_message(broker: Broker) -> None:
    sub = _run(broker, "t_echo", [echonet_message()], prefix="disc_echo", configs=2)
    (state,) = [m.json() for m in sub.messages if m.topic == f"t_echo/{ECHONET_SENDER}/state"]
    # E1 and D3 (unit and coefficient) have no quantity: it stays under its reading id, and gets no sensor
    assert state["readings"] == {"active_power_import": 628, "active_energy_import": 1234.5, "E1": 0.1, "D3": 1}
    configs = _configs(sub, "disc_echo", ECHONET_SENDER)
    assert set(configs) == {"active_power_import", "active_energy_import"}
    energy = configs["active_energy_import"]
    assert energy["unit_of_measurement"] == "kWh" and "*" not in energy["value_template"]  # already kWh
    assert "manufacturer" not in energy["device"]


def test_online_is_retained_while_running(broker: Broker) -> None:
    exp = exporter(broker.url(base="t_online"))
    assert isinstance(exp, Sink)  # what the pipeline's sink list will take
    try:
        exp.on_messages([hdlc_message()], None)
        assert exp.flush(20)
        sub = Subscriber(broker.port, ["t_online/status"])
        statuses = sub.wait_for(lambda ms: any(m.retain for m in ms))
        sub.close()
        assert any(m.retain for m in statuses) and {m.payload for m in statuses} == {b"online"}
        st = exp.status()
        assert (st.state, st.published, st.queued, st.dropped) == ("connected", 1, 0, 0)
        assert st.describe() == "MQTT connected, 1 published"
    finally:
        exp.close()
    assert exp.status().state == "closed"
    exp.close()  # twice is fine


def test_interval_merges_readings_and_publishes_at_most_one_per_interval(broker: Broker) -> None:
    sub = Subscriber(broker.port, ["t_rate/+/state"])
    exp = exporter(broker.url(base="t_rate"), interval=10.0, discovery_prefix=None)
    full = hdlc_message()  # the whole list, with the energy counter
    full.received = 4.0
    try:
        exp.on_messages([hdlc_power(100, 0.0), full, hdlc_power(300, 9.0)], None)
        exp.on_messages([echonet_message(5)], None)  # another meter: its own interval
        exp.on_messages([hdlc_power(400, 10.0), hdlc_power(500, 15.0)], None)
        assert exp.flush(20)
        assert exp.status().published == 3  # 100, the merge up to 400, and the B-route meter
    finally:
        exp.close()  # sends the state still held back (500)
    states = sub.wait_for(lambda ms: sum(KAMSTRUP_ID in m.topic for m in ms) >= 3)
    sub.close()
    kamstrup = [m.json()["readings"] for m in states if KAMSTRUP_ID in m.topic]
    assert [r["active_power_import"] for r in kamstrup] == [100, 400, 500]
    assert "active_energy_import" not in kamstrup[0]
    assert kamstrup[1]["active_energy_import"] == 44228000  # from the message at 4 s, not skipped
    assert kamstrup[1]["voltage_l1"] == 230
    assert exp.status().published == 4


def test_broker_restart_loses_only_the_queue_overflow(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "b")
    broker.start()
    gate = Gate(broker.port)
    gate.open = True
    log = Log()
    exp = exporter(
        f"mqtt://127.0.0.1:{gate.port}/t_restart", log, discovery_prefix="disc_restart", queue_size=5, max_backoff=2
    )
    sub: Subscriber | None = None
    try:
        sub = Subscriber(broker.port, ["t_restart/+/state"])
        exp.on_messages([hdlc_power(p, p) for p in range(3)], None)
        assert exp.flush(20)
        sub.wait_for(lambda ms: len(ms) >= 3)
        sub.close()
        gate.open = False
        broker.stop()
        assert log.wait_for("lost the MQTT broker")
        assert exp.status().state == "disconnected"
        exp.on_messages([hdlc_power(p, p) for p in range(3, 11)], None)  # 8 states into a queue of 5
        st = exp.status()
        assert (st.queued, st.dropped) == (5, 3)
        assert st.describe() == "MQTT down, 3 published, 5 queued, 3 dropped"
        broker.start()
        sub = Subscriber(broker.port, ["t_restart/+/state", "disc_restart/#"])
        gate.open = True
        assert exp.flush(30)
        got = sub.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= 5 and len(ms) >= 6)
        powers = [m.json()["readings"]["active_power_import"] for m in got if m.topic.endswith("/state")]
        assert powers == [6, 7, 8, 9, 10]  # 3, 4, 5 were the overflow
        assert any(m.topic.startswith("disc_restart/") for m in got)  # discovery sent again to the new broker
        assert exp.status().published == 8
        assert sum("connected to" in line for line in log.lines) == 2
    finally:
        exp.close()
        if sub is not None:
            sub.close()
        gate.close()
        broker.stop()


def test_wrong_credentials_are_one_clear_line(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "b", users={"meter": "right-password"})
    broker.start()
    log = Log()
    exp = exporter(broker.url("meter", "wrong-password", "t_auth"), log, max_backoff=1)
    try:
        exp.on_messages([hdlc_message()], None)
        assert log.wait_for("refused the connection")
        assert not exp.flush(2)
        st = exp.status()
        assert st.state == "refused" and st.queued == 1 and st.trouble
        assert st.last_error is not None and "user name and password" in st.last_error
    finally:
        exp.close()
        broker.stop()
    refused = [line for line in log.lines if "refused" in line]
    assert len(refused) == 1  # retried, but said once
    assert not any("wrong-password" in line for line in log.lines)


def test_right_credentials_connect(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "b", users={"meter": "right-password"})
    broker.start()
    exp = exporter(broker.url("meter", base="t_auth_ok"), environ={"METERUI_MQTT_PASSWORD": "right-password"})
    try:
        exp.on_messages([hdlc_message()], None)
        assert exp.flush(20)
        assert exp.status().published == 1
    finally:
        exp.close()
        broker.stop()


def test_unreachable_broker_is_one_clear_line_and_feeding_never_blocks() -> None:
    port = free_port()  # nothing listens there
    log = Log()
    exp = exporter(f"mqtt://127.0.0.1:{port}/t_none", log, max_backoff=1, queue_size=10)
    try:
        for i in range(50):
            exp.on_messages([hdlc_power(i, i)], None)
        assert log.wait_for("cannot reach the MQTT broker")
        st = exp.status()
        assert (st.state, st.published, st.queued, st.dropped) == ("disconnected", 0, 10, 40)
    finally:
        exp.close(timeout=1)
    assert sum("cannot reach" in line for line in log.lines) == 1
    assert log.lines[0] == f"MQTT: connecting to mqtt://127.0.0.1:{port}/t_none"


def test_value_templates_render_as_home_assistant_would() -> None:
    """The discovery templates, rendered with Jinja2 (Home Assistant's engine) on real state payloads."""
    jinja2 = pytest.importorskip("jinja2")
    from meterui.export.topics import SENSOR_BY_UNIT, value_template

    env = jinja2.Environment()
    state = state_payload(hdlc_message(), 0.0)
    energy = env.from_string(value_template("active_energy_import", SENSOR_BY_UNIT["Wh"]))
    power = env.from_string(value_template("active_power_import", SENSOR_BY_UNIT["W"]))
    assert float(energy.render(value_json=state)) == pytest.approx(44228.0)  # Wh → kWh
    assert power.render(value_json=state) == "2824"
    # a message without the quantity renders empty, which Home Assistant ignores (keeps the last value)
    assert power.render(value_json=state_payload(echonet_message(), 0.0) | {"readings": {}}) == ""


def test_mqtts_with_a_ca_file(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    if certs is None:
        pytest.skip("openssl is not installed: no certificates for the TLS broker")
    ca, cert, key = certs
    broker = Broker(tmp_path / "b", tls=(cert, key))
    broker.start()
    log = Log()
    good = exporter(f"mqtts://127.0.0.1:{broker.port}/t_tls", log, ca_file=str(ca))
    bad_log = Log()
    bad = exporter(f"mqtts://127.0.0.1:{broker.port}/t_tls", bad_log, max_backoff=1)  # the system CAs: untrusted
    try:
        good.on_messages([hdlc_message()], None)
        assert good.flush(20)
        assert good.status().published == 1
        assert bad_log.wait_for("cannot reach")
        assert bad.status().state == "disconnected"
    finally:
        good.close()
        bad.close(timeout=1)
        broker.stop()
    assert any("connected to mqtts://127.0.0.1" in line for line in log.lines)
    assert any("check the CA file" in line for line in bad_log.lines)
