"""Prefect flows of ppflow, installed under the import name ``ppflow_flows``."""
