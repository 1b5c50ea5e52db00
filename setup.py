"""The package list, the one thing pyproject.toml cannot say: every ``ppflow`` package in
the tree is found on its own (a new subpackage needs no edit here), and the top-level
folders ``package-dir`` maps are added under their import names (``packages.find`` only
finds directories under their own names): ``flows/`` as ``ppflow_flows``, ``templates/``
as ``ppflow.templates`` and ``deployments/`` as ``ppflow_flows.deployments``. Directories
without ``__init__.py`` are found too (``ppflow.services`` and ``ppflow.domain`` are
namespace packages), but the two data folders need one: in an editable install, setuptools
finds a package mapped outside its parent's folder only by its ``__init__.py`` (a mapped
namespace package does not import there), and then ``python -m ppflow.resources`` shows
that the checkout's ``templates/`` and ``deployments/`` are the ones read.
Everything else, package data included, is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["ppflow", "ppflow.*"], exclude=["*.__pycache__"]),
        "ppflow_flows",
        "ppflow.templates",
        "ppflow_flows.deployments",
    ]
)
