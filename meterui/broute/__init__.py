"""The Japanese B-route: a sans-IO session driving a Wi-SUN module (SKSTACK-IP) and the smart meter.

Public entry points for the CLI and the screens:

* :class:`~meterui.broute.session.BrouteSession` (``state``, ``fetch_history``, ``history_points``,
  ``new_scan``, ``scan_progress``, ``counters``), :data:`~meterui.broute.session.STATES`;
* :func:`~meterui.broute.credentials.validate_id`, :func:`~meterui.broute.credentials.validate_password`;
* :class:`~meterui.broute.commands.PanDescriptor` (a cached scan: ``to_dict`` / ``from_dict``).
"""
