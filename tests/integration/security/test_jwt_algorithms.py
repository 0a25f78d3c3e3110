"""Every algorithm family config allows, verified over real sockets from PEM files, a JWKS and an HS
secret, and the family rules: a key only ever verifies tokens of its own family, and a token's
``alg`` outside the configured list is refused whatever key it names."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .support import (
    SECRET,
    Jwks,
    assert_invalid_token,
    call,
    ec_key,
    ed_key,
    hmac_token,
    jwk,
    jwks_server,
    jwt_config,
    public_pem,
    rsa_key,
    serve,
    token,
    wait_until,
)

P384 = ec.generate_private_key(ec.SECP384R1())
ASYMMETRIC = {
    "RS256": rsa_key,
    "RS384": rsa_key,
    "PS256": rsa_key,
    "PS512": rsa_key,
    "ES256": ec_key,
    "EdDSA": ed_key,
}


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_algorithms(alg: str) -> None:
    async with serve(auth={"jwt": jwt_config(algorithms=[alg])}) as (up, port):
        assert (await call(port, bearer=token(SECRET, alg))).status == 200
        assert_invalid_token(await call(port, bearer=token("w" * 64, alg)))  # wrong secret
        other = "HS512" if alg != "HS512" else "HS256"
        assert_invalid_token(await call(port, bearer=token(SECRET, other)))  # right secret, alg not allowed
    assert len(up.requests) == 1


@pytest.mark.parametrize("alg", list(ASYMMETRIC))
async def test_asymmetric_algorithms_from_a_pem_file(alg: str, tmp_path: Path) -> None:
    make_key = ASYMMETRIC[alg]
    pem = tmp_path / "key.pem"
    pem.write_bytes(public_pem(make_key()))
    auth = {"jwt": jwt_config(algorithms=[alg], secret=None, public_keys=[str(pem)])}
    async with serve(auth=auth) as (up, port):
        assert (await call(port, bearer=token(make_key(), alg))).status == 200
        assert_invalid_token(await call(port, bearer=token(make_key(1), alg)))  # another key pair
    assert len(up.requests) == 1
    assert up.requests[0].header("x-user-id") == "alice"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
async def test_asymmetric_algorithms_from_a_jwks(alg: str) -> None:
    make_key = ASYMMETRIC[alg]
    jwks = Jwks([jwk("k1", make_key())])
    async with jwks_server(jwks) as server:
        auth = {"jwt": jwt_config(algorithms=[alg], secret=None, jwks_url=f"{server.address}/jwks")}
        async with serve(auth=auth) as (up, port):
            await wait_until(lambda: len(server.requests) >= 1)
            ok = token(make_key(), alg, kid="k1")
            await wait_until_status(port, ok, 200)
            assert_invalid_token(await call(port, bearer=token(make_key(1), alg, kid="k1")))
    assert up.requests[0].header("x-user-id") == "alice"


async def wait_until_status(port: int, bearer: str, status: int, within: float = 3.0) -> None:
    """The JWKS warm-up runs in the background at start: poll until it has landed."""
    async with asyncio.timeout(within):
        while (await call(port, bearer=bearer)).status != status:  # noqa: ASYNC110 - polling the gateway
            await asyncio.sleep(0.02)


async def test_a_key_only_verifies_its_own_family(tmp_path: Path) -> None:
    """RS256, ES256 and EdDSA allowed with a key of each family: a token that claims one family
    but is signed for another is refused, through PEM keys and through JWKS kids alike."""
    paths = []
    for name, make_key in (("rsa", rsa_key), ("ec", ec_key), ("ed", ed_key)):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(public_pem(make_key()))
        paths.append(str(path))
    jwks = Jwks([jwk("rsa", rsa_key()), jwk("ec", ec_key()), jwk("ed", ed_key())])
    async with jwks_server(jwks) as server:
        for keys in ({"public_keys": paths}, {"jwks_url": f"{server.address}/jwks"}):
            auth = {"jwt": jwt_config(algorithms=["RS256", "ES256", "EdDSA"], secret=None, **keys)}
            async with serve(auth=auth) as (_, port):
                await wait_until_status(port, token(rsa_key(), "RS256", kid="rsa"), 200)
                assert (await call(port, bearer=token(ec_key(), "ES256", kid="ec"))).status == 200
                assert (await call(port, bearer=token(ed_key(), "EdDSA", kid="ed"))).status == 200
                if "jwks_url" in keys:
                    # a kid naming a key of another family: refused, not tried with the wrong algorithm
                    # (PEM keys have no kid: there the token's alg alone picks the family)
                    assert_invalid_token(await call(port, bearer=token(ec_key(), "ES256", kid="rsa")))
                    assert_invalid_token(await call(port, bearer=token(rsa_key(), "RS256", kid="ed")))
                # the public keys as HMAC secrets (HS256 is not even allowed here)
                for make_key in (rsa_key, ec_key, ed_key):
                    assert_invalid_token(await call(port, bearer=hmac_token(public_pem(make_key()))))
                # an allowed family, but not an allowed algorithm of it
                assert_invalid_token(await call(port, bearer=token(rsa_key(), "PS256", kid="rsa")))
                assert_invalid_token(await call(port, bearer=token(P384, "ES384", kid="ec")))
                assert_invalid_token(await call(port, bearer=token(SECRET, "HS256")))


def _rsa_only(**extra: Any) -> dict[str, Any]:
    return {"jwt": jwt_config(algorithms=["RS256"], secret=None, **extra)}


async def test_a_gateway_without_hs_never_uses_a_secret(tmp_path: Path) -> None:
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(public_pem(rsa_key()))
    async with serve(auth=_rsa_only(public_keys=[str(pem)])) as (up, port):
        for alg in ("HS256", "HS384", "HS512"):
            assert_invalid_token(await call(port, bearer=token(SECRET, alg)))
            assert_invalid_token(await call(port, bearer=token("p" * 64, alg)))
    assert up.requests == []
