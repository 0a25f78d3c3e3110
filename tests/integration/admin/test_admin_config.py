"""/config, /reload and the token over a real socket: secrets never leave, the version follows the
config, a refused reload keeps the old config and says why with lines, and `portway check` refuses
an admin listener off loopback without a token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portway.testing import upstream_server

from .support import admin_gateway, one_upstream, write_config

pytestmark = pytest.mark.timeout(30)

TOKEN = "admin-" + "t" * 30
JWT_SECRET = "jwt-secret-" + "j" * 30
SIGNING_KEY = "identity-key-" + "i" * 30
REDIS_PASSWORD = "r3dis-hunter2"
COLLECTOR_KEY = "collector-api-key-42"


def secret_config(target: str, jwt_secret: str = JWT_SECRET) -> dict[str, object]:
    return one_upstream(target) | {
        "admin": {"listen": "127.0.0.1:0", "token": TOKEN},
        "auth": {
            "jwt": {"algorithms": ["HS256"], "secret": jwt_secret},
            "identity": {"signing_key": SIGNING_KEY},
        },
        "rate_limit_store": {"backend": "redis", "redis_url": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"},
        "tracing": {"headers": {"x-api-key": COLLECTOR_KEY}},
    }


AUTH = {"authorization": f"Bearer {TOKEN}"}


async def test_no_secret_appears_in_any_admin_answer(tmp_path: Path) -> None:
    async with (
        upstream_server() as up,
        admin_gateway(secret_config(up.address), tmp_path, headers=AUTH) as gw,
    ):
        config = await gw.http.get("/config")
        bodies = [config.content] + [
            (await gw.http.get(p)).content for p in ("/status", "/routes", "/upstreams")
        ]
    assert config.status_code == 200 and config.headers["cache-control"] == "no-store"
    for body in bodies:
        for secret in (TOKEN, JWT_SECRET, SIGNING_KEY, REDIS_PASSWORD, COLLECTOR_KEY):
            assert secret.encode() not in body
    doc = config.json()
    assert doc["config"]["auth"]["jwt"]["secret"] == "<redacted>"
    assert doc["config"]["rate_limit_store"]["redis_url"] == "redis://:<redacted>@127.0.0.1:6379/0"
    assert doc["config"]["upstreams"]["svc"]["targets"] == [up.address]  # what is not secret stays
    assert len(doc["version"]) == 16


async def test_a_good_reload_answers_the_new_version_and_a_bad_one_keeps_the_old(tmp_path: Path) -> None:
    async with (
        upstream_server() as first,
        upstream_server() as second,
        admin_gateway(one_upstream(first.address), tmp_path) as gw,
    ):
        before = (await gw.http.get("/config")).json()["version"]
        again = (await gw.http.post("/reload")).json()["version"]  # the file has not changed

        write_config(gw.path, {"admin": "127.0.0.1:0"} | one_upstream(second.address))
        reloaded = await gw.http.post("/reload")
        after = (await gw.http.get("/config")).json()["version"]
        routed_after_good = await gw.proxy.get("/x")
        served_after_good = len(second.requests)

        broken = one_upstream(second.address, routes=[{"path": "/", "upstream": "nowhere"}])
        write_config(gw.path, {"admin": "127.0.0.1:0"} | broken)
        refused = await gw.http.post("/reload")
        still = (await gw.http.get("/config")).json()["version"]
        routed_after_bad = await gw.proxy.get("/y")
        status = (await gw.http.get("/status")).json()
        with_body = await gw.http.post("/reload", content=b'{"file": "/etc/passwd"}')
    assert again == before
    assert reloaded.status_code == 200 and reloaded.json() == {"version": after} and after != before
    assert routed_after_good.status_code == 200 and served_after_good == 1
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (
        problem["version"] is None and problem["detail"] == "the config was refused; the running config stays"
    )
    (error,) = problem["errors"]
    assert error["file"] == str(gw.path) and error["path"] == "routes[0].upstream"
    assert isinstance(error["line"], int) and "unknown upstream 'nowhere'" in error["message"]
    assert still == after and routed_after_bad.status_code == 200 and len(second.requests) == 2
    assert status["version"] == after and status["reloads"] == 2  # the refused one is not counted
    assert with_body.status_code == 400


async def test_the_version_changes_when_only_a_secret_does(tmp_path: Path) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with (
        upstream_server() as up,
        admin_gateway(secret_config(up.address), tmp_path, headers=headers) as gw,
    ):
        before = (await gw.http.get("/config")).json()
        write_config(gw.path, secret_config(up.address, jwt_secret="rotated-" + "r" * 30))
        reloaded = (await gw.http.post("/reload")).json()
        after = (await gw.http.get("/config")).json()
    assert before["config"] == after["config"]  # redacted, the two look the same...
    assert reloaded["version"] == after["version"] != before["version"]  # ...but they are not


@pytest.mark.parametrize(
    ("headers", "status", "challenge"),
    [
        ({}, 401, 'Bearer realm="portway-admin"'),
        (
            {"authorization": "Bearer not-the-token-at-all"},
            401,
            'Bearer realm="portway-admin", error="invalid_token"',
        ),
        ({"authorization": f"Basic {TOKEN}"}, 401, 'Bearer realm="portway-admin"'),
        ({"authorization": f"Bearer {TOKEN}"}, 200, None),
    ],
)
async def test_with_a_token_every_request_needs_it(
    tmp_path: Path, headers: dict[str, str], status: int, challenge: str | None
) -> None:
    config = {"admin": {"listen": "127.0.0.1:0", "token": TOKEN}}
    async with upstream_server() as up, admin_gateway(one_upstream(up.address) | config, tmp_path) as gw:
        calls = (("GET", "/status"), ("GET", "/nope"), ("POST", "/reload"))
        answers = [await gw.http.request(method, path, headers=headers) for method, path in calls]
        reloads = gw.running.reloads
    # without the token nothing is learnt, not even which paths exist, and nothing is done
    expected = [status, 404, 200] if status == 200 else [401, 401, 401]
    assert [a.status_code for a in answers] == expected
    assert reloads == (1 if status == 200 else 0)
    for answer in answers if challenge else ():
        assert answer.headers["www-authenticate"] == challenge
        assert answer.headers["content-type"] == "application/problem+json"
        assert TOKEN not in answer.text


def check(tmp_path: Path, admin: object) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "listen: 127.0.0.1:8080\n"
        "upstreams:\n  svc: {targets: ['http://127.0.0.1:9']}\n"
        "routes:\n  - {path: /, upstream: svc}\n"
        f"admin: {admin}\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "portway", "check", str(path)], capture_output=True, text=True, timeout=30
    )


def test_check_refuses_an_admin_listener_off_loopback_without_a_token(tmp_path: Path) -> None:
    refused = check(tmp_path, "{listen: '0.0.0.0:9901'}")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"{tmp_path / 'gw.yaml'}:6: admin: 0.0.0.0:9901 is not a loopback address"
    )
    accepted = check(tmp_path, "{listen: '0.0.0.0:9901', token: " + TOKEN + "}")
    assert accepted.returncode == 0, accepted.stderr
    assert TOKEN not in accepted.stdout + accepted.stderr


async def test_with_a_token_the_dashboard_page_loads_and_its_data_needs_the_token(tmp_path: Path) -> None:
    config = {"admin": {"listen": "127.0.0.1:0", "token": TOKEN}}
    async with upstream_server() as up, admin_gateway(one_upstream(up.address) | config, tmp_path) as gw:
        page = await gw.http.get("/")
        script = await gw.http.get("/dashboard/app.js")
        refused = await gw.http.get("/dashboard/data?since=0")
        given = await gw.http.get("/dashboard/data?since=0", headers={"authorization": f"Bearer {TOKEN}"})
    # the page holds no data (it asks for the token and sends it with each data request)
    assert (page.status_code, script.status_code) == (200, 200)
    assert "Authorization" in script.text and TOKEN not in page.text
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert given.status_code == 200 and "cursor" in given.json()
