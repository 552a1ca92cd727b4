"""The dashboard: ``argus serve``.

- ``server.py``: the HTTP server (stdlib ``http.server``), binding, token check, routing;
- ``api.py``: the JSON endpoints, read-only views of the state directory;
- ``health.py``: each signal of the last snapshot judged green/amber/red by the thresholds;
- ``metrics.py``: ``/metrics``, the Prometheus exposition of the same figures;
- ``static/``: the one page (HTML, CSS and hand-written SVG charts, no third-party code).

Nothing here writes to the state directory: the server only reads what the cycle left.
"""
