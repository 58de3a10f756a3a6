"""Structured logs with request ids, and Prometheus metrics (one registry per app).

Logs never carry tokens, passwords or message bodies: the access log records
the route template (not the raw path or query) and the request id.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = request_id_var.get()
        fields = getattr(record, "fields", None)
        extras = " ".join(f"{k}={v}" for k, v in (fields or {}).items())
        return " ".join(p for p in (line, f"req={request_id}" if request_id else "", extras) if p)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours carries the request id


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "backchannel_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "backchannel_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30),
            registry=self.registry,
        )
        self.jobs = Counter(
            "backchannel_jobs_total",
            "Jobs run, by kind and outcome (done, error: retried later, retry: asked to, "
            "failed: given up).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "backchannel_job_seconds",
            "How long job handlers ran, by kind.",
            ["kind"],
            buckets=(0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "backchannel_messages_sent_total",
            "Messages accepted and stored.",
            registry=self.registry,
        )
        self.connected_clients = Gauge(
            "backchannel_connected_clients",
            "Clients waiting for events: sync long-polls and WebSocket streams.",
            registry=self.registry,
        )
        self.stream_sockets = Gauge(
            "backchannel_stream_sockets",
            "Authenticated WebSockets this node's fan-out knows of (idle checks, shutdown).",
            registry=self.registry,
        )
        self.stream_fell_behind = Counter(
            "backchannel_stream_fell_behind_total",
            "Times a WebSocket's outbox was full and it went back to reading the store.",
            registry=self.registry,
        )
        self.stream_closes = Counter(
            "backchannel_stream_closes_total",
            "WebSockets closed by the server, by close code.",
            ["code"],
            registry=self.registry,
        )
        self.write_batches = Gauge(
            "backchannel_store_write_batches",
            "Write transactions committed by the group-commit writer since start.",
            registry=self.registry,
        )
        self.writes = Gauge(
            "backchannel_store_writes",
            "Write operations committed since start (writes / batches = mean group size).",
            registry=self.registry,
        )
