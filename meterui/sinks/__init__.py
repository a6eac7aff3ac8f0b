"""Consumers of decoded messages: the UI, JSON lines, recordings, counters, exporters (see :mod:`.base`)."""
