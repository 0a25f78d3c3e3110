"""Hostile bearer tokens over real sockets: ``alg: none``, HS/RS key confusion, bad claims, ``kid``
injection, oversized tokens, cookies. Every refusal is the same 401 (``invalid_token`` challenge,
one detail for all reasons) and the upstream never sees the request."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from portway.testing import upstream_server

from .support import (
    SECRET,
    assert_invalid_token,
    assert_missing_credential,
    b64url,
    call,
    claims,
    hmac_token,
    jwt_config,
    public_pem,
    request_bytes,
    rsa_key,
    send_raw,
    serve,
    token,
    unsigned_token,
)


def rs256_auth(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(public_pem(rsa_key()))
    return {"jwt": jwt_config(algorithms=["RS256"], secret=None, public_keys=[str(pem)], **overrides)}


async def test_a_valid_token_passes_and_names_the_user() -> None:
    async with serve() as (up, port):
        response = await call(port, bearer=token())
    assert response.status == 200
    assert up.requests[0].header_all("x-user-id") == ["alice"]


async def test_no_token_gets_the_plain_challenge() -> None:
    async with serve() as (up, port):
        assert_missing_credential(await call(port))
        assert_missing_credential(await call(port, "/api/x", "Authorization: Basic YWxpY2U6cHc="))
        assert_missing_credential(await call(port, "/api/x", "Authorization: Bearer "))
    assert up.requests == []


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(alg: str) -> None:
    async with serve() as (up, port):
        assert_invalid_token(await call(port, bearer=unsigned_token(alg=alg)))
        # ... and with a signature attached, in case only an empty one were checked.
        assert_invalid_token(await call(port, bearer=unsigned_token(alg=alg) + b64url(b"sig")))
    assert up.requests == []


async def test_hs256_signed_with_the_rsa_public_key_is_refused_by_an_rs256_gateway(tmp_path: Path) -> None:
    pem = public_pem(rsa_key())
    async with serve(auth=rs256_auth(tmp_path)) as (up, port):
        assert (await call(port, bearer=token(rsa_key(), "RS256"))).status == 200  # the key works
        for raw in (pem, pem.strip(), pem.replace(b"\n", b"")):
            assert_invalid_token(await call(port, bearer=hmac_token(raw)))
    assert len(up.requests) == 1


async def test_key_confusion_against_a_gateway_that_also_accepts_hs256(tmp_path: Path) -> None:
    """RS256 and HS256 both allowed (with a different secret): an HS256 token signed with the
    RSA public key's PEM must not verify, whatever kid it names."""
    pem_path = tmp_path / "rsa.pem"
    pem_path.write_bytes(public_pem(rsa_key()))
    auth = {"jwt": jwt_config(algorithms=["RS256", "HS256"], public_keys=[str(pem_path)])}
    pem = public_pem(rsa_key())
    async with serve(auth=auth) as (up, port):
        assert (await call(port, bearer=token(rsa_key(), "RS256"))).status == 200
        assert (await call(port, bearer=token(SECRET, "HS256"))).status == 200
        assert_invalid_token(await call(port, bearer=hmac_token(pem)))
        assert_invalid_token(await call(port, bearer=hmac_token(pem, kid="rsa")))
        assert_invalid_token(await call(port, bearer=hmac_token(pem, alg="HS384")))  # not allowed at all
    assert len(up.requests) == 2


def _tampered() -> str:
    header, _, signature = token().split(".")
    payload = b64url(json.dumps(claims(sub="admin")).encode())
    return f"{header}.{payload}.{signature}"


BAD_CLAIMS = {
    "expired": {"exp": -3600},
    "not yet valid (nbf)": {"nbf": 3600},
    "issued in the future (iat)": {"iat": 3600},
    "wrong issuer": {"iss": "https://evil.example"},
    "wrong audience": {"aud": "another-api"},
    "no audience": {"aud": None},
    "no issuer": {"iss": None},
    "no exp": {"exp": None},
    "no sub": {"sub": None},
    "empty sub": {"sub": ""},
    "numeric sub": {"sub": 42},
}


@pytest.mark.parametrize("case", list(BAD_CLAIMS))
async def test_bad_claims_are_refused(case: str) -> None:
    now = int(time.time())
    times = ("exp", "nbf", "iat")
    overrides = {k: (now + v if k in times and v is not None else v) for k, v in BAD_CLAIMS[case].items()}
    async with serve() as (up, port):
        assert_invalid_token(await call(port, bearer=token(**overrides)))
    assert up.requests == []


@pytest.mark.parametrize(
    "bad",
    ["not-a-jwt", "a.b.c", "a.b", "....", _tampered(), token(key="x" * 64), token(alg="HS512")],
    ids=["garbage", "three-garbage-parts", "two-parts", "dots", "tampered-payload", "other-secret", "hs512"],
)
async def test_malformed_and_forged_tokens_are_refused(bad: str) -> None:
    async with serve() as (up, port):
        assert_invalid_token(await call(port, bearer=bad))
    assert up.requests == []


async def test_leeway_applies_to_exp_and_nbf() -> None:
    now = int(time.time())
    async with serve(auth={"jwt": jwt_config(leeway="60s")}) as (_, port):
        assert (await call(port, bearer=token(exp=now - 30))).status == 200
        assert (await call(port, bearer=token(nbf=now + 30))).status == 200
        assert_invalid_token(await call(port, bearer=token(exp=now - 120)))
    async with serve(auth={"jwt": jwt_config(leeway=0)}) as (_, port):
        assert_invalid_token(await call(port, bearer=token(exp=now - 5)))


KID_TRICKS = ["../../etc/passwd", "/etc/passwd", "/dev/null", "file:///etc/passwd", "..\\..\\x", "a/../../b"]


@pytest.mark.parametrize("kid", KID_TRICKS)
async def test_kid_with_path_characters_is_never_a_path(kid: str, tmp_path: Path) -> None:
    """A kid is a dictionary key: tokens forged for the file it names (an empty /dev/null key, the PEM
    file as an HMAC secret, an attacker's RSA key) are all refused."""
    pem_path = tmp_path / "rsa.pem"
    pem_path.write_bytes(public_pem(rsa_key()))
    auth = {"jwt": jwt_config(algorithms=["RS256", "HS256"], public_keys=[str(pem_path)])}
    async with serve(auth=auth) as (up, port):
        assert_invalid_token(await call(port, bearer=hmac_token(b"", kid=kid)))
        assert_invalid_token(await call(port, bearer=hmac_token(pem_path.read_bytes(), kid=kid)))
        assert_invalid_token(await call(port, bearer=hmac_token(pem_path.read_bytes(), kid=str(pem_path))))
        assert_invalid_token(await call(port, bearer=token(rsa_key(1), "RS256", kid=kid)))
    assert up.requests == []


async def test_kid_with_a_url_is_never_fetched(tmp_path: Path) -> None:
    """Neither with PEM keys nor with a JWKS: the gateway only fetches its configured URL."""
    async with upstream_server() as evil, upstream_server() as jwks:
        kids = [f"{evil.address}/jwks.json", f"//127.0.0.1:{evil.port}/k", evil.address]
        jwks_auth = {"jwt": jwt_config(algorithms=["RS256"], secret=None, jwks_url=f"{jwks.address}/jwks",
                                       jwks_refresh_interval=0)}  # fmt: skip
        for auth in (rs256_auth(tmp_path), jwks_auth):
            async with serve(auth=auth) as (up, port):
                for kid in kids:
                    assert_invalid_token(await call(port, bearer=token(rsa_key(1), "RS256", kid=kid)))
            assert up.requests == []
        assert evil.requests == []
        assert {r.target for r in jwks.requests} == {"/jwks"}


async def test_a_100kb_token_is_refused_without_a_500_and_never_forwarded() -> None:
    huge = token(pad="x" * 100_000)
    async with serve() as (up, port):
        response = await call(port, bearer=huge)
        assert response.status in (401, 431), response.status
        if response.status == 401:
            assert_invalid_token(response)
    # With header limits raised, the token reaches the JWT policy, whose own max_token_size refuses it.
    async with serve(limits={"max_header_bytes": "512KB"}) as (up2, port):
        assert_invalid_token(await call(port, bearer=huge))
        assert_invalid_token(await call(port, "/api/x", f"Authorization: Bearer {'A' * 100_000}"))
    assert up.requests == [] and up2.requests == []


async def test_a_non_ascii_token_is_refused() -> None:
    async with serve() as (up, port):
        data = request_bytes("/api/x").replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer \xff\xfe.a.b\r\n\r\n")
        response = await send_raw(port, data)
        assert response.status in (400, 401)
        if response.status == 401:
            assert_invalid_token(response)
    assert up.requests == []


async def test_token_from_the_configured_cookie() -> None:
    auth = {"jwt": jwt_config(cookie="session")}
    async with serve(auth=auth) as (up, port):
        ok = await call(port, "/api/x", f"Cookie: theme=dark; session={token()}; other=1")
        assert ok.status == 200
        assert up.requests[-1].header_all("x-user-id") == ["alice"]
        assert_invalid_token(await call(port, "/api/x", f"Cookie: session={unsigned_token()}"))
        assert_invalid_token(await call(port, "/api/x", f"Cookie: session={token(exp=1)}"))
        assert_invalid_token(await call(port, "/api/x", f"Cookie: session={token(pad='x' * 20_000)}"))
        # A cookie whose name merely ends with the configured one is not it.
        assert_missing_credential(await call(port, "/api/x", f"Cookie: xsession={token()}"))
        assert_missing_credential(await call(port, "/api/x", "Cookie: session="))
    assert len(up.requests) == 1


async def test_a_cookie_is_ignored_when_none_is_configured() -> None:
    async with serve() as (up, port):
        assert_missing_credential(await call(port, "/api/x", f"Cookie: session={token()}"))
    assert up.requests == []


async def test_every_refusal_looks_the_same() -> None:
    """No failure reason reaches the client: one status, one challenge, one detail, one title."""
    now = int(time.time())
    bad = [
        unsigned_token(),
        token(exp=now - 3600),
        token(iss="x"),
        token(aud="y"),
        token(sub=None),
        token(key="q" * 64),
        "garbage",
        hmac_token(b"", kid="../../etc/passwd"),
    ]
    async with serve() as (_, port):
        responses = [await call(port, bearer=b) for b in bad]
    for response in responses:
        assert_invalid_token(response)
    assert len({r.header("www-authenticate") for r in responses}) == 1
    assert len({(r.json()["title"], r.json()["detail"], r.json()["type"]) for r in responses}) == 1
    assert all(set(r.json()) <= {"type", "title", "status", "detail", "request_id"} for r in responses)


async def test_claims_helper_defaults_are_valid() -> None:
    # Guards the helpers the hostile cases rely on: without overrides the token is accepted.
    assert claims()["sub"] == "alice"
    async with serve() as (_, port):
        assert (await call(port, "/api/x", f"authorization: bearer {token()}")).status == 200
