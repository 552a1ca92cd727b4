"""Looking back over the registry and the metrics history (issue 7).

CLI-only code, for ``argus stats``, ``argus patterns``, ``argus summary`` and the
dashboard: nothing here is on a cycle's path, so these modules may import
``typing`` (and ``prometheus_client``) normally.

- ``tally``: the registry read once, fast and in bounded memory;
- ``stats``: the ``argus stats`` document built from that tally;
- ``exposition``: that document as Prometheus metrics (``stats_registry``);
- ``patterns`` and ``trends``: recurring problems and trends toward trouble;
- ``summary``: the daily summary and its delivery (Relay, else Telegram, else a file).
"""
