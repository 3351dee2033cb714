"""moto's WSGI application, built as `python -m moto.server` builds it: the one place the control plane relies on
moto's server module. tests/controlplane/test_moto_app.py fails loudly, naming the moto version, if it moves."""

from __future__ import annotations

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

TESTED_MOTO_VERSION = "5.2.5"
REQUEST_HANDLER = MotoRequestHandler


def moto_application():
    """Every moto backend behind one WSGI application, dispatched by host and path as the moto server does."""
    return DomainDispatcherApplication(create_backend_app)
