"""What deployments read from Prefect: secrets kept in Prefect Secret blocks. Serving,
schedules, triggers and restarts are in test_production, against ppflow served as the
README says."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.prefect


def test_smtp_password_and_signing_key_can_come_from_prefect_secret_blocks(flow_app):
    from prefect.blocks.system import Secret

    from ppflow.bootstrap import bootstrap
    from ppflow.settings import Settings

    Secret(value="s3cret-from-block").save("ppflow-smtp-password", overwrite=True)
    Secret(value="k" * 40).save("ppflow-signing-key", overwrite=True)
    settings = Settings(
        database_url=str(flow_app.engine.url),
        smtp={"password_block": "ppflow-smtp-password"},
        portal={"signing_key_block": "ppflow-signing-key"},
    )
    app = bootstrap(settings).read_secrets()
    try:
        assert app.settings.smtp.password == "s3cret-from-block"
        assert app.settings.portal.signing_key == "k" * 40
    finally:
        app.dispose()
