"""`jwks_url: unix:SOCKET:PATH`: the gateway fetches an issuer's keys over a unix socket, which is how
`portway up` reaches the users service (it has no TCP port)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from portway.config.security import JwtConfig
from portway.policies.jwt_keys import JwtKeys, jwks_endpoint
from portway.testing import UpstreamRequest, UpstreamResponse, upstream_server


def test_unix_url_splits_into_socket_and_path() -> None:
    url, transport = jwks_endpoint("unix:/run/x/users-1.sock:/.well-known/jwks.json")
    assert url == "http://localhost/.well-known/jwks.json"
    assert transport is not None
    assert jwks_endpoint("https://issuer.example/jwks") == ("https://issuer.example/jwks", None)


async def test_keys_are_fetched_over_the_socket() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    jwk = {**json.loads(OKPAlgorithm.to_jwk(key)), "kid": "k1", "use": "sig"}
    seen: list[str] = []

    async def jwks(request: UpstreamRequest) -> UpstreamResponse:
        seen.append(request.target)
        return UpstreamResponse(
            headers=[("Content-Type", "application/json")], body=json.dumps({"keys": [jwk]}).encode()
        )

    with tempfile.TemporaryDirectory() as run:
        socket = Path(run) / "users-1.sock"
        async with upstream_server(jwks, uds=str(socket)):
            config = JwtConfig(algorithms=["EdDSA"], jwks_url=f"unix:{socket}:/.well-known/jwks.json")
            keys = JwtKeys(config)
            await keys.refresh()
    assert seen == ["/.well-known/jwks.json"]
    assert keys.find("k1", "EdDSA") is not None
