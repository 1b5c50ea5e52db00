"""Prefect flows of ppflow, installed under the import name ``ppflow_flows``.

Flows are thin orchestration: each task calls one use case of ``ppflow.services`` and
returns plain values; parameters, run names, logs, events and artifacts carry codes only.
"""

import os

# Prefect's server would try to send telemetry; a partnership office's server has no reason to.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's local server (used when PREFECT_API_URL is not set) creates its database on first
# start, which takes more than Prefect's default 20 s on a small machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
