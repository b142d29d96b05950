"""Gunicorn's hooks for `villa serve` (`--config python:villa.gunicorn_config`).

Only hooks belong here: gunicorn takes every name in this module that is one of its settings."""

from prometheus_client import multiprocess


def child_exit(server, worker):
    """A worker ended: its live values leave the metrics; what it counted stays in the sums."""
    multiprocess.mark_process_dead(worker.pid)
