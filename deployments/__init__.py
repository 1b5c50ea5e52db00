"""ppflow's deployments (``prefect.yaml``) and the portal's reverse proxy
(``nginx-portal.conf``), installed as the package ``ppflow_flows.deployments``; this file
only makes the folder importable in an editable install (see setup.py)."""
