"""The stats document as Prometheus metrics, through ``prometheus_client``.

For ``argus stats --format prometheus`` and the dashboard's ``/metrics``::

    from argus.analyze.exposition import StatsCollector, exposition_text, stats_registry

    registry = stats_registry(doc)      # a fresh CollectorRegistry with one StatsCollector
    text = exposition_text(doc)         # bytes in the text format 0.0.4 (generate_latest)
    registry.register(StatsCollector(lambda: follower_doc()))   # or: into your registry,
                                        # the callable is called at each collect (scrape)

``doc`` is what ``argus.analyze.stats.compute`` (or ``stats.document`` over a
``tally_follow.Follower``'s tally) returns. Nothing registers itself at import time.
prometheus_client costs ~100 ms to import, so ``argus stats --format json`` never
imports this module.

Metrics (one document's window; ``--format prometheus`` reads the whole registry by
default, which is what makes the ``_total`` counters monotonic: the registry is
append-only, so ``increase(argus_problems_total[1d])`` is the day's count):

- ``argus_problems_total{type,severity}`` counter: registry records (every known
  type x severity, 0 included, so ``increase()`` has a starting point);
- ``argus_actions_total{action,result}`` counter: records by action and result;
- ``argus_action_success_ratio`` gauge: success / (success + failure) over host
  actions and alerts (absent when there were none);
- ``argus_alerts_total{outcome}`` counter: ``sent``, ``suppressed``, ``failed``,
  ``skipped``, ``dry_run``;
- ``argus_beads_created_total`` counter: bead ids first seen in the window;
- ``argus_time_to_resolve_seconds{type}`` summary (``_count``, ``_sum``): resolved
  problems and the seconds each took, so ``rate(_sum)/rate(_count)`` is the mean
  over any range; ``argus_mean_time_to_resolve_seconds{type}`` gauge: that mean
  over the document's window;
- ``argus_llm_actions_total{result}`` counter: records of actions the LLM proposed;
- ``argus_llm_calls`` and ``argus_llm_tokens`` gauges: calls and tokens (in + out)
  that ``llm-memory.json`` holds for the window, and
  ``argus_llm_last_call_tokens{direction="in"|"out"}`` gauge: the last call's
  (``last_decision.json``). Gauges, not ``_total`` counters: the advisor keeps only
  its last 24 h of calls, so a "total" would fall as calls age out, which
  ``rate()`` would read as counter resets;
- ``argus_registry_skipped_lines`` gauge: lines that are not valid records;
- ``argus_stats_window_seconds`` gauge: the window, when it is not the whole registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from argus.model import PROBLEM_TYPES, SEVERITIES

Doc = Mapping[str, Any]


class StatsCollector:
    """A custom collector (client_python's one-method protocol: ``collect()``) over
    a stats document, or a callable returning one at each collect."""

    def __init__(self, source: Doc | Callable[[], Doc]) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        doc = self._source() if callable(self._source) else self._source
        return list(metrics(doc))


def stats_registry(doc: Doc | Callable[[], Doc]) -> CollectorRegistry:
    """A fresh registry holding only the stats metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(doc))
    return registry


def exposition_text(doc: Doc) -> bytes:
    """The text exposition format (0.0.4), as node_exporter's textfile collector reads."""
    return generate_latest(stats_registry(doc))


def metrics(doc: Doc) -> Iterable[Metric]:
    problems = CounterMetricFamily(
        "argus_problems", "Problem records in the registry, by type and severity",
        labels=["type", "severity"])
    by_type_severity: Mapping[str, Mapping[str, int]] = doc.get("by_type_severity") or {}
    types = [*PROBLEM_TYPES, *sorted(set(by_type_severity) - set(PROBLEM_TYPES))]
    for ptype in types:
        counts = by_type_severity.get(ptype) or {}
        for sev in [*SEVERITIES, *sorted(set(counts) - set(SEVERITIES))]:
            problems.add_metric([ptype, sev], counts.get(sev, 0))
    yield problems

    actions = CounterMetricFamily(
        "argus_actions", "Registry records by action taken (alert, log, restart_service, "
        "kill_pid, kill_tmux, clean_disk) and result", labels=["action", "result"])
    for action, results in (doc.get("actions") or {}).items():
        for result, n in results.items():
            actions.add_metric([action, result], n)
    yield actions

    rate = doc.get("action_success_rate")
    if rate is not None:
        yield GaugeMetricFamily(
            "argus_action_success_ratio", "success / (success + failure) over host actions "
            "and alerts (skipped, suppressed, dry_run and resolved are neither)", value=rate)

    alerts = CounterMetricFamily("argus_alerts", "Alert records by outcome: sent, "
                                 "suppressed (dedup), failed, skipped (rate limit), dry_run",
                                 labels=["outcome"])
    for outcome, n in (doc.get("alerts") or {}).items():
        alerts.add_metric([outcome], n)
    yield alerts

    yield CounterMetricFamily("argus_beads_created", "Beads first seen on a record",
                              value=doc.get("beads_created", 0))

    ttr = SummaryMetricFamily(
        "argus_time_to_resolve_seconds", "Seconds from first seen to resolved, "
        "per resolved problem (details.duration_s)", labels=["type"])
    mean = GaugeMetricFamily("argus_mean_time_to_resolve_seconds",
                             "Mean seconds from first seen to resolved", labels=["type"])
    for ptype, figures in (doc.get("time_to_resolve") or {}).items():
        ttr.add_metric([ptype], figures["timed"], figures["sum_s"])
        if figures.get("mean_s") is not None:
            mean.add_metric([ptype], figures["mean_s"])
    yield ttr
    yield mean

    llm: Mapping[str, Any] = doc.get("llm") or {}
    llm_actions = CounterMetricFamily("argus_llm_actions", "Records of actions the LLM "
                                      "advisor proposed, by result", labels=["result"])
    for result, n in (llm.get("actions") or {}).items():
        llm_actions.add_metric([result], n)
    yield llm_actions
    yield GaugeMetricFamily("argus_llm_calls", "LLM calls in the window that "
                            "llm-memory.json holds (it keeps the last 24 h)",
                            value=llm.get("calls", 0))
    yield GaugeMetricFamily("argus_llm_tokens", "LLM tokens (in + out) of those calls",
                            value=llm.get("tokens", 0))
    last = llm.get("last_call")
    if last:
        tokens = GaugeMetricFamily("argus_llm_last_call_tokens", "Tokens of the last LLM "
                                   "call (last_decision.json)", labels=["direction"])
        for direction in ("in", "out"):
            value = last.get(f"tokens_{direction}")
            if isinstance(value, (int, float)):
                tokens.add_metric([direction], value)
        yield tokens

    yield GaugeMetricFamily("argus_registry_skipped_lines", "Registry lines that are not "
                            "valid records (torn writes)", value=doc.get("skipped_lines", 0))
    days = doc.get("window_days")
    if days is not None:
        yield GaugeMetricFamily("argus_stats_window_seconds", "The window these figures "
                                "cover (absent: the whole registry)", value=days * 86400)
