"""Prefect flows of ppflow, installed under the import name ``ppflow_flows``.

Flows are thin orchestration: each task calls one use case of ``ppflow.services`` and
returns plain values; parameters, run names, logs, events and artifacts carry codes only.
"""

import os

# Prefect's server would try to send telemetry; a partnership office's server has no reason to.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
