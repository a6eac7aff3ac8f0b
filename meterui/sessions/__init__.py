"""Sans-IO sessions that talk back to a writable source (see :mod:`.base`); the B-route session is one."""
