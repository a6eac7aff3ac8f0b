"""ListenCounts keeps no counters of its own besides ``decrypt_ok``: it reads the pipeline's PipelineStats."""

from __future__ import annotations

from meterui.commissioning import ListenCounts
from meterui.sinks.counters import PipelineStats


def test_listen_counts_read_the_pipeline_stats() -> None:
    stats = PipelineStats(
        "port", bytes_received=100, frames_ok=3, frames_bad=1, decrypt_failures=1, checksum_ok=4, checksum_bad=2
    )
    c = ListenCounts(10.0, 2.5, decrypt_ok=2, stats=stats)
    s = c.stats
    assert (s.bytes_received, s.checksum_ok, s.checksum_bad, s.frames_ok, s.decrypt_failures) == (100, 4, 2, 3, 1)
    snapshot = c.copy()
    stats.bytes_received = 200
    stats.errors_by_layer["crypto"] = 1
    assert snapshot.stats.bytes_received == 100 and snapshot.stats.errors_by_layer == {}
    assert c.stats.bytes_received == 200
    assert (snapshot.seconds, snapshot.elapsed, snapshot.decrypt_ok) == (10.0, 2.5, 2)
    assert not hasattr(c, "bytes_in") and not hasattr(c, "messages_ok")  # one name per count: the stats'


def test_fresh_counts_are_zero() -> None:
    c = ListenCounts(5.0)
    s = c.stats
    assert (s.bytes_received, s.checksum_ok, s.checksum_bad, s.frames_ok, s.decrypt_failures, c.decrypt_ok) == (0,) * 6
