"""Prometheus metrics of one process, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Counters and timings the server exposes at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "kabinet_inbound_total",
            "Inputs handled, by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "kabinet_handling_seconds",
            "Time to handle one input, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "kabinet_outbound_total",
            "Messages sent, by channel and status",
            ["channel", "status"],
            registry=self.registry,
        )
        self.payment_conflicts = Counter(
            "kabinet_payment_conflicts_total",
            "Payment notifications not settled because they contradict a recorded payment "
            "(a transaction id already used, an order paid by another transaction); each "
            "is logged as an error for an operator to reconcile",
            ["provider", "reason"],
            registry=self.registry,
        )
        self.retention_deleted = Counter(
            "kabinet_retention_deleted_total",
            "Rows and files deleted by the retention job, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.retention_batch_seconds = Histogram(
            "kabinet_retention_batch_seconds",
            "Time of one retention batch's transaction (how long its row locks are held)",
            ["kind"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )

    def retention_batch(self, kind: str, count: int, seconds: float) -> None:
        """Record one committed retention batch."""
        self.retention_deleted.labels(kind).inc(count)
        self.retention_batch_seconds.labels(kind).observe(seconds)
