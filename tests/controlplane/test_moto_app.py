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


def test_the_lambda_backend_the_code_location_reads_holds_the_package(local_target):
    """GetFunction's Code.Location is served from moto's Lambda backend: the package must come back byte for byte."""
    import io
    import secrets
    import zipfile

    import requests
    from definitions_support import deploy_function

    installed = importlib.metadata.version("moto")
    arn = deploy_function(local_target, f"fn-{secrets.token_hex(4)}", {"app.py": "def handler(e, c):\n    return {}\n"})
    location = local_target.client("lambda").get_function(FunctionName=arn)["Code"]["Location"]
    package = requests.get(location, timeout=10)
    assert package.status_code == 200, (
        f"moto {installed}: the Lambda backend no longer gives the function's code (tested with "
        f"{TESTED_MOTO_VERSION}); update lambda_code in localsage/controlplane/moto_app.py"
    )
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert archive.read("app.py").startswith(b"def handler")
