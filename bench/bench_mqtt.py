#!/usr/bin/env python3
"""MQTT exporter benchmark: messages per second it sustains and CPU per published message.

A real broker (mosquitto if installed, else amqtt; ``METERUI_TEST_BROKER`` forces one) on a free
127.0.0.1 port, a subscriber in a separate process counting the states, and this process feeding real
decoded messages (Kamstrup lists from the project's encoders; decoding is not timed) to
:class:`meterui.export.mqtt.MqttExporter` in batches of 10, as the pipeline would.

Reports (nothing is asserted):
- ``feed``: wall time of ``on_messages`` per message, i.e. what the pipeline thread pays;
- ``sustained``: messages per second from the first feed to the subscriber's last receipt;
- ``cpu``: this process's CPU time (all threads: pipeline side, worker, paho) per published message.

Usage: ``python bench/bench_mqtt.py [--messages N] [--qos 0|1] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _subscriber(port: int, count: int, ready: mp.Event, done: mp.Queue) -> None:  # type: ignore[type-arg]
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got = [0]
    last = [0.0]
    finished = threading.Event()

    def on_message(*_: object) -> None:
        got[0] += 1
        last[0] = time.time()
        if got[0] >= count:
            finished.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.on_message = on_message
    c.on_subscribe = lambda *a: ready.set()
    c.connect("127.0.0.1", port)
    c.subscribe("bench/+/state", qos=1)
    c.loop_start()
    finished.wait(300)
    c.loop_stop()
    done.put((got[0], last[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--qos", type=int, choices=[0, 1], default=0)
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()

    from meterui.export.mqtt import MqttExporter
    from meterui.export.url import parse_mqtt_url
    from meterui.protocol.decoder import decode_bytes
    from tests.broker import Broker
    from tests.conftest import kamstrup_body, plain_hdlc

    n = opts.messages
    data = b"".join(plain_hdlc(kamstrup_body(current_raw=1000 + i % 500)) for i in range(500))
    base = decode_bytes(data)
    messages = [base[i % len(base)] for i in range(n)]

    broker = Broker(Path(tempfile.mkdtemp(prefix="bench-mqtt-")))
    broker.start()
    ready, done = mp.Event(), mp.Queue()
    sub = mp.Process(target=_subscriber, args=(broker.port, n, ready, done))
    sub.start()
    ready.wait(30)
    exp = MqttExporter(parse_mqtt_url(broker.url(base="bench"), qos=opts.qos, environ={}), queue_size=n + 10)
    exp.start()
    exp.flush(30)
    cpu0, t0 = time.process_time(), time.time()
    feed = 0.0
    for i in range(0, n, 10):
        f0 = time.perf_counter()
        exp.on_messages(messages[i : i + 10], None)
        feed += time.perf_counter() - f0
    exp.flush(300)
    got, last = done.get(timeout=300)
    cpu1 = time.process_time()  # after the subscriber has everything: paho's writes are counted
    sub.join(30)
    exp.close()
    broker.stop()
    elapsed = max(last - t0, 1e-9)
    result = {
        "broker": broker.kind,
        "qos": opts.qos,
        "messages": n,
        "received": got,
        "feed_us_per_message": round(feed / n * 1e6, 1),
        "sustained_msgs_per_s": round(got / elapsed),
        "cpu_us_per_published": round((cpu1 - cpu0) / max(exp.status().published, 1) * 1e6, 1),
    }
    if opts.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:24} {v}")


if __name__ == "__main__":
    main()
