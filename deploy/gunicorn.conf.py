"""gunicorn settings for the sync pool (regular views).

    gunicorn -c deploy/gunicorn.conf.py --chdir deploy app:app

Sync workers: one request at a time each, so never route a stream here (nginx
sends /streams/ to the uvicorn pool). Environment: KOLBEN_SYNC_BIND
(127.0.0.1:8000), KOLBEN_SYNC_WORKERS (2 x CPUs + 1).
"""

import multiprocessing
import os

bind = os.environ.get("KOLBEN_SYNC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KOLBEN_SYNC_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request taking longer than this is stuck: the worker is killed and replaced.
timeout = 30
graceful_timeout = 10
# nginx on the same machine sets X-Forwarded-*; trust it only from there.
forwarded_allow_ips = "127.0.0.1"
# Logs to stderr: systemd's journal (or supervisor's log) keeps them.
accesslog = "-"
errorlog = "-"
