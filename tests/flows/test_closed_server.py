"""The Prefect server as the README's production recipe starts it: with Prefect's basic
authentication. ppflow keeps the SMTP password and the link-signing key in Prefect Secret
blocks, so a server that answers anyone gives them to anyone. Here the server refuses a
request without the auth string, while ``ppflow run``, ``ppflow answer`` and ``ppflow
serve`` work with it; ``ppflow check`` refuses a Prefect API beyond this machine that
ppflow would reach without one."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from tests import factories
from tests.flows.test_production import BIN, Office, free_port, until

pytestmark = pytest.mark.prefect

AUTH = "coordinator:8q3ZtL0w-closed"
SECRET = "smtp-password-7Hq2"  # what an open server would hand out


class ClosedOffice(Office):
    """``make serve``'s processes, the server started with PREFECT_SERVER_API_AUTH_STRING
    and every client (ppflow serve, run, answer, this test) with PREFECT_API_AUTH_STRING."""

    def __init__(self, root):
        super().__init__(root)
        self.env["PREFECT_SERVER_API_AUTH_STRING"] = AUTH
        self.env["PREFECT_API_AUTH_STRING"] = AUTH

    def client(self):
        with temporary_settings({PREFECT_API_URL: self.url, PREFECT_API_AUTH_STRING: AUTH}):
            return get_client(sync_client=True)

    def without_auth(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_AUTH_STRING"}
        return subprocess.run(
            [str(BIN / "ppflow"), *args], env=env, capture_output=True, text=True, timeout=120
        )

    def read_secrets(self, auth: str | None) -> tuple[int, str]:
        """POST /api/block_documents/filter with include_secrets, as anyone could."""
        request = urllib.request.Request(
            self.url + "/block_documents/filter",
            data=json.dumps({"include_secrets": True}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if auth:
            request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    office = ClosedOffice(tmp_path_factory.mktemp("closed-office"))
    try:
        office.start()
        yield office
    finally:
        office.close()


def test_the_secret_blocks_are_refused_to_a_request_without_the_auth_string(office):
    from prefect.blocks.system import Secret

    with temporary_settings({PREFECT_API_URL: office.url, PREFECT_API_AUTH_STRING: AUTH}):
        Secret(value=SECRET).save("ppflow-smtp-password", overwrite=True)

    status, body = office.read_secrets(auth=None)
    assert (status, json.loads(body)) == (401, {"exception_message": "Unauthorized"})
    assert SECRET not in body
    assert office.read_secrets(auth="coordinator:guessed")[0] == 401
    # the same request with the auth string is answered: the 401 is the authentication
    status, body = office.read_secrets(auth=AUTH)
    assert status == 200 and SECRET in body


def test_run_answer_and_serve_work_with_the_auth_string(office):
    """ppflow serve (started by the fixture) has served every deployment; a recruitment
    started by ppflow run reaches its wait, is answered by ppflow answer, and completes."""
    code = factories.referral(office.app, factories.staff(office.app))
    started = office.ppflow("run", "recruit", code)
    assert started.returncode == 0, started.stderr
    office.suspended("recruit-advisor", f"recruit/{code}", "screening", timeout=120)
    given = office.ppflow("answer", "screening", code, "--outcome", "retained")
    assert given.returncode == 0, given.stderr
    office.completed("recruit-advisor", f"recruit/{code}", timeout=120)
    until("the advisor is recruited", lambda: office.stage(code) == "recruited", 30)


def test_without_the_auth_string_the_cli_says_what_to_set(office):
    refused = (
        f"error: the Prefect server at http://127.0.0.1:{office.port} refused the request "
        "(401 Unauthorized): set PREFECT_API_AUTH_STRING to the server's "
        "PREFECT_SERVER_API_AUTH_STRING"
    )
    code = factories.referral(office.app, factories.staff(office.app))
    for args in (
        ("run", "recruit", code),
        ("answer", "screening", code, "--outcome", "retained"),
        ("serve",),
    ):
        result = office.without_auth(*args)
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stderr == refused + "\n", result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert office.runs_named("recruit-advisor", f"recruit/{code}") == []


def test_check_accepts_the_closed_server(office):
    checked = office.ppflow("check")
    assert f"ok    Prefect API at http://127.0.0.1:{office.port}: with PREFECT_API_AUTH_STRING" in (
        checked.stdout
    )
    assert f"ok    the Prefect server at http://127.0.0.1:{office.port} answers" in checked.stdout


# ----------------------------------------------------- ppflow check, without a server


def check(tmp_path, **prefect) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PPFLOW_DATA_DIR": str(tmp_path),
        "PPFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/ppflow.db",
        **prefect,
    }
    return subprocess.run(
        [str(BIN / "ppflow"), "check"], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "url", ["http://prefect-host:4200/api", "http://0.0.0.0:4200/api", "https://10.0.0.7/api"]
)
def test_check_refuses_a_prefect_api_beyond_this_machine_without_the_auth_string(tmp_path, url):
    checked = check(tmp_path, PREFECT_API_URL=url)
    where = url.removesuffix("/api")
    assert checked.returncode == 1
    assert checked.stderr == (
        f"error: the Prefect API at {where} is not on this machine, and "
        "PREFECT_API_AUTH_STRING is not set: start that server with "
        "PREFECT_SERVER_API_AUTH_STRING=user:password and set PREFECT_API_AUTH_STRING to "
        "the same on every client and worker\n"
    )


@pytest.mark.parametrize(
    ("prefect", "shown"),
    [
        ({"PREFECT_API_URL": "http://127.0.0.1:4200/api"}, "at http://127.0.0.1:4200: on this"),
        ({"PREFECT_API_URL": "http://localhost:4200/api"}, "at http://localhost:4200: on this"),
        ({"PREFECT_API_URL": "http://[::1]:4200/api"}, "at http://[::1]:4200: on this"),
        (
            {"PREFECT_API_URL": "http://prefect-host:4200/api", "PREFECT_API_AUTH_STRING": AUTH},
            "at http://prefect-host:4200: with PREFECT_API_AUTH_STRING",
        ),
    ],
)
def test_check_accepts_a_loopback_or_an_authenticated_prefect_api(tmp_path, prefect, shown):
    checked = check(tmp_path, **prefect)
    assert f"ok    Prefect API {shown}" in checked.stdout, checked.stdout + checked.stderr
    assert AUTH not in checked.stdout + checked.stderr


def test_check_says_when_the_prefect_server_does_not_answer(tmp_path):
    port = free_port()  # nothing listens there
    checked = check(tmp_path, PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        f"failed the Prefect server at http://127.0.0.1:{port} does not answer (ConnectError)"
        in checked.stderr
    ), checked.stderr
    assert "Traceback" not in checked.stdout + checked.stderr
