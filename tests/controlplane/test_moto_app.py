"""The one moto server seam the control plane relies on: this fails loudly, naming the moto version, if it moves."""

from __future__ import annotations

import importlib.metadata

from moto import server, settings

from localsage.controlplane.moto_app import TESTED_MOTO_VERSION, moto_application


def test_the_moto_server_names_the_control_plane_builds_on_exist():
    installed = importlib.metadata.version("moto")
    for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"):
        assert hasattr(server, name), (
            f"moto {installed}: moto.server.{name} moved (tested with {TESTED_MOTO_VERSION}); "
            "update localsage/controlplane/moto_app.py"
        )
    assert callable(moto_application())


def test_the_authorization_setting_the_control_plane_switches_exists():
    installed = importlib.metadata.version("moto")
    assert hasattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT"), (
        f"moto {installed}: moto.settings.INITIAL_NO_AUTH_ACTION_COUNT moved (tested with {TESTED_MOTO_VERSION}); "
        "update RoleAuthorization in localsage/controlplane/moto_app.py"
    )
