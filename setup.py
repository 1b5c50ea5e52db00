"""The package list, the one thing pyproject.toml cannot say: every ``ppflow`` package in
the tree is found on its own (a new subpackage needs no edit here), and ``flows/`` is added
under its import name ``ppflow_flows`` (``packages.find`` only finds directories under
their own names). Directories without ``__init__.py`` are found too: ``ppflow.services``
and ``ppflow.domain`` are namespace packages, and ``ppflow/templates`` holds data only.
Everything else, package data included, is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["ppflow", "ppflow.*"], exclude=["*.__pycache__"]),
        "ppflow_flows",
    ]
)
