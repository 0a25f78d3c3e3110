"""`portway check` and `portway run` agree on broken configs (issue 9 §6): both exit 1 with the same
``file:line: key.path: message`` lines, and neither prints a traceback. Each config runs through the
real commands in subprocesses, all of them concurrently (four at a time), once per module; each case
is then its own test. `run` must exit by itself: one that starts serving is killed and fails.
Finer variants of each rule are unit-tested in tests/unit/config (in process, fast)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

RUN_TIMEOUT = 30.0  # only reached when `run` serves a config it should have refused
# The first test runs every subprocess (a busy 2-core machine needs ~1 s per interpreter start).
pytestmark = pytest.mark.timeout(300)
UP = 'upstreams:\n  u: {targets: ["http://127.0.0.1:9"]}\n'  # lines 1-2 of most cases


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes  # {tmp} is replaced by the test's directory
    line: int | None  # None: the problem is the file itself
    key: str
    fragment: str


def route(extra: str = "") -> str:
    return "routes:\n  - {path: /a/, upstream: u" + (", " + extra if extra else "") + "}\n"


CASES = [
    Case(
        "unknown-upstream",
        UP + "routes:\n  - {path: /a/, upstream: nope}\n",
        4,
        "routes[0].upstream",
        "unknown upstream 'nope'",
    ),
    # Checked but refused by `run` before: the policy constructors were never reached by `check`.
    Case(
        "rate-finer-than-a-microsecond",
        UP + route("rate_limit: {limit: 2000000, per: 1s}"),
        4,
        "routes[0].rate_limit",
        "finer than one request per microsecond",
    ),
    Case(
        "rate-name-not-ascii",
        UP + route("rate_limit: {limit: 5, per: 1s, name: débit}"),
        4,
        "routes[0].rate_limit.name",
        "printable ASCII",
    ),
    Case(
        "rate-user-key-without-auth",
        UP + route("auth: none, rate_limit: {limit: 5, per: 1s, key: user}"),
        4,
        "routes[0].rate_limit.key",
        "'user' needs authentication",
    ),
    Case(
        "redis-url-scheme",
        UP + "rate_limit_store: {backend: redis, redis_url: 'http://r:6379'}\n" + route(),
        3,
        "rate_limit_store.redis_url",
        "redis://",
    ),
    Case(
        "redis-url-option",
        UP
        + "rate_limit_store: {backend: redis, redis_url: 'redis://r/0?socket_timeout=x'}\n"
        + route("rate_limit: {limit: 5, per: 1s}"),
        3,
        "rate_limit_store.redis_url",
        "socket_timeout",
    ),
    Case(
        "router-parameter-clash",
        UP + "routes:\n  - {path: '/a/{id}', upstream: u}\n  - {path: '/a/{name}/x', upstream: u}\n",
        5,
        "routes[1].path",
        "conflicts with {id}",
    ),
    Case(
        "shadowed-route",
        UP + "routes:\n  - {path: /a/, upstream: u}\n  - {path: /a/, upstream: u, methods: [GET]}\n",
        5,
        "routes[1].path",
        "never see a request",
    ),
    Case(
        "hs256-one-byte-secret",
        UP + "auth:\n  jwt: {algorithms: [HS256], secret: x}\n" + route(),
        4,
        "auth.jwt.secret",
        "at least 32 bytes",
    ),
    Case(
        "pem-missing",
        UP + "auth:\n  jwt:\n    algorithms: [RS256]\n    public_keys: [{tmp}/none.pem]\n" + route(),
        6,
        "auth.jwt.public_keys[0]",
        "cannot read",
    ),
    Case(
        "pem-not-a-key",
        UP + "auth:\n  jwt:\n    algorithms: [RS256]\n    public_keys: [{tmp}/junk.pem]\n" + route(),
        6,
        "auth.jwt.public_keys[0]",
        "is not a PEM public key",
    ),
    Case(
        "pem-weak-rsa",
        UP + "auth:\n  jwt:\n    algorithms: [RS256]\n    public_keys: [{tmp}/rsa1024.pem]\n" + route(),
        6,
        "auth.jwt.public_keys[0]",
        "1024-bit RSA key is too weak",
    ),
    Case(
        "pem-family-unused",
        UP + "auth:\n  jwt:\n    algorithms: [RS256]\n    public_keys: [{tmp}/ec.pem]\n" + route(),
        6,
        "auth.jwt.public_keys[0]",
        "EC key, but no algorithm",
    ),
    Case(
        "cors-origin-with-path",
        UP + route("cors: {origins: ['https://app.example/x']}"),
        4,
        "routes[0].cors.origins",
        "scheme://host[:port]",
    ),
    Case(
        "cors-credentials-wildcard",
        UP + route("cors: {origins: ['https://a.example'], credentials: true, headers: ['*']}"),
        4,
        "routes[0].cors",
        "literal name, not a wildcard",
    ),
    Case(
        "claim-into-content-length",
        UP
        + "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: "
        + "k" * 32
        + "\n    claims_to_headers: {sub: Content-Length}\n"
        + route(),
        7,
        "auth.jwt.claims_to_headers",
        "the gateway sets or removes that header",
    ),
    Case(
        "target-port-out-of-range",
        'upstreams:\n  u: {targets: ["http://127.0.0.1:70000"]}\n' + route(),
        2,
        "upstreams.u.targets",
        "from 1 to 65535",
    ),
    Case(
        "read-timeout-zero",
        'upstreams:\n  u:\n    targets: ["http://127.0.0.1:9"]\n    timeouts: {read: 0s}\n' + route(),
        4,
        "upstreams.u.timeouts.read",
        "longer than 0s",
    ),
    Case(
        "write-timeout-is-gone",
        'upstreams:\n  u:\n    targets: ["http://127.0.0.1:9"]\n    timeouts: {write: 5s}\n' + route(),
        4,
        "upstreams.u.timeouts.write",
        "unknown key",
    ),
    Case(
        "access-log-directory-missing",
        UP + "access_log: {path: {tmp}/no/such/dir/access.log}\n" + route(),
        3,
        "access_log.path",
        "does not exist",
    ),
    Case(
        "api-key-header-empty",
        UP
        + "auth:\n  api_keys:\n    header: ''\n    consumers: [{name: a, key_sha256: "
        + "a" * 64
        + "}]\n"
        + route(),
        5,
        "auth.api_keys.header",
        "cannot be empty",
    ),
    Case("top-level-list", "- listen: 127.0.0.1:1\n", 1, "", "expected a mapping at the top"),
    Case("not-utf8", b"listen: \xff\xfe\n", None, "", "not UTF-8"),
    Case("a-directory", "{dir}", None, "", "is a directory"),
]


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: still running after RUN_TIMEOUT, so killed
    stderr: str
    stdout: str


async def _portway(slots: asyncio.Semaphore, cwd: Path, *args: str) -> Outcome:
    async with slots:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "portway",
            *args,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
        except TimeoutError:
            proc.kill()  # our own child, by its pid
            out, err = await proc.communicate()
            return Outcome(None, err.decode(errors="replace"), out.decode(errors="replace"))
        return Outcome(proc.returncode, err.decode(errors="replace"), out.decode(errors="replace"))


def _write_keys(tmp: Path) -> None:
    def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
        public = key.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    (tmp / "rsa1024.pem").write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    (tmp / "ec.pem").write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    (tmp / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")


def _config_file(case: Case, tmp: Path) -> Path:
    if case.text == "{dir}":
        path = tmp / case.id
        path.mkdir()
        return path
    path = tmp / f"{case.id}.yaml"
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text.replace("{tmp}", str(tmp)))
    return path


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Outcome, Outcome]]:
    tmp = tmp_path_factory.mktemp("configs")
    _write_keys(tmp)
    files = {case.id: _config_file(case, tmp) for case in CASES}

    async def everything() -> list[tuple[Outcome, Outcome]]:
        slots = asyncio.Semaphore(4)
        pairs = [
            asyncio.gather(
                _portway(slots, tmp, "check", str(path)),
                _portway(slots, tmp, "run", str(path), "--listen", "127.0.0.1:0"),
            )
            for path in files.values()
        ]
        return list(await asyncio.gather(*pairs))

    results = asyncio.run(everything())
    return {case.id: (files[case.id], check, run) for case, (check, run) in zip(CASES, results, strict=True)}


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_check_and_run_refuse_alike(case: Case, outcomes: dict[str, tuple[Path, Outcome, Outcome]]) -> None:
    path, check, run = outcomes[case.id]
    assert run.code is not None, f"run served a broken config until killed:\n{run.stderr}"
    assert (check.code, run.code) == (1, 1), (check, run)
    for outcome in (check, run):
        assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    assert check.stderr.strip() == run.stderr.strip()
    where = f"{path}:{case.line}: " if case.line is not None else f"{path}: "
    prefix = where + (f"{case.key}: " if case.key else "")
    lines = check.stderr.strip().splitlines()
    assert any(line.startswith(prefix) and case.fragment in line for line in lines), (prefix, lines)
