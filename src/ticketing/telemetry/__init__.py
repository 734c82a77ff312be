"""What an operator sees of a running process: metrics, traces and logs (issue 12, ADR 17).

Shared by every module and the bus, like ``ticketing.errors``: it imports no module and
no part of the web layer. ``metrics`` defines every Prometheus series (bounded labels,
never an id), ``tracing`` carries a trace across events, ``logs`` writes one JSON object
per line with the ids of the request or event being handled.
"""
