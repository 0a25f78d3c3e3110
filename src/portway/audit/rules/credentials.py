"""Credentials written into deploy files: inline, well-known, or authentication turned off.

A value counts as written in the file when text remains after `${VAR}` references are taken out;
the default of `${VAR:-default}` counts, since it is what runs when VAR is unset. Reports never
repeat a secret, only well-known defaults (which are public anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from portway.audit.findings import Finding, Location, Rule, Severity
from portway.audit.model import Stack, Workload

INLINE = Rule(
    "PW020",
    "Credential written inline",
    Severity.WARNING,
    "Use a Docker secret (`POSTGRES_PASSWORD_FILE: /run/secrets/db_password`), a `${VAR}` taken from "
    "the deploying environment, or in Kubernetes `valueFrom.secretKeyRef`.",
)
WELL_KNOWN = Rule(
    "PW021",
    "Default or well-known credential",
    Severity.ERROR,
    "Generate a strong secret per deployment and pass it as a Docker/Kubernetes secret.",
)
AUTH_DISABLED = Rule(
    "PW022",
    "Authentication turned off",
    Severity.ERROR,
    "Remove the setting: give the data store a password from a secret instead.",
)
COMMITTED_SECRET = Rule(
    "PW023",
    "Kubernetes Secret manifest holds its values",
    Severity.WARNING,
    "Create the Secret out of band (`kubectl create secret`, sealed-secrets, an external secret store) "
    "and keep only references in the manifests.",
)
RULES = (INLINE, WELL_KNOWN, AUTH_DISABLED, COMMITTED_SECRET)

WELL_KNOWN_VALUES = {
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "postgres",
    "root",
    "admin",
    "administrator",
    "changeme",
    "change_me",
    "changeit",
    "secret",
    "supersecret",
    "guest",
    "example",
    "test",
    "testing",
    "1234",
    "123456",
    "12345678",
    "default",
    "letmein",
    "qwerty",
    "mysql",
    "mongo",
    "mongodb",
    "redis",
    "rabbitmq",
    "pass",
    "toor",
    "user",
    "demo",
    "dev",
    "insecure",
}
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?KEY"
    r"|SIGNING_?KEY|ENCRYPTION_?KEY|(^|_)PASS$|(^|_)PWD$",
    re.IGNORECASE,
)
# Names that mention a secret but hold something else: where it is, how long it lives…
_NOT_A_SECRET = re.compile(
    r"(_FILE|_PATH|_DIR|_LENGTH|_TTL|_TIMEOUT|_EXPIRY|_EXPIRES|_ENABLED|_REQUIRED|_URL|_URI|_HOST|_PORT"
    r"|_NAME|_ALGORITHM|_ISSUER|_AUDIENCE|_TYPE|_METHOD)$",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]*:(?P<password>[^@/\s]+)@", re.IGNORECASE)
# `$$` (an escaped dollar), `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$VAR`,
# and Kubernetes' `$(VAR)`, which refers to another variable of the container.
_REFERENCE = re.compile(
    r"(?P<dollar>\$\$)|\$\{(?P<name>[^}:?-]*)(?::?-(?P<default>[^}]*))?[^}]*\}"
    r"|\$[A-Za-z_][A-Za-z0-9_]*|\$\([A-Za-z_][A-Za-z0-9_]*\)"
)
_TRUE = {"true", "yes", "1", "on"}
# (variable, values that turn authentication off)
_AUTH_OFF = {
    "POSTGRES_HOST_AUTH_METHOD": {"trust"},
    "MYSQL_ALLOW_EMPTY_PASSWORD": _TRUE,
    "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": _TRUE,
    "MARIADB_ALLOW_EMPTY_PASSWORD": _TRUE,
    "ALLOW_EMPTY_PASSWORD": _TRUE,
    "XPACK.SECURITY.ENABLED": {"false"},
    "DISABLE_SECURITY_PLUGIN": _TRUE,
}
_PASSWORD_FLAGS = {"--requirepass", "--masterauth", "--password"}


def written_value(value: str) -> str:
    """What the value is when no variable it references is set: `${A:-x}y$B` -> `xy`."""
    return _REFERENCE.sub(lambda m: "$" if m["dollar"] else m["default"] or "", value)


def check(stack: Stack) -> Iterator[Finding]:
    for workload in stack.workloads:
        yield from _environment(workload)
        yield from _arguments(workload)
    for secret in stack.committed_secrets:
        yield Finding(
            COMMITTED_SECRET,
            secret.location,
            secret.value,
            f"Secret `{secret.value}` carries its values in the manifest",
        )


def _environment(workload: Workload) -> Iterator[Finding]:
    for env in workload.env:
        if env.value is None:
            continue
        off_values = _AUTH_OFF.get(env.name.upper())
        if off_values is not None and written_value(env.value).strip().lower() in off_values:
            yield Finding(
                AUTH_DISABLED,
                env.location,
                workload.name,
                f"`{env.name}={env.value}` lets anyone connect to `{workload.name}` without a password",
            )
        elif _SECRET_NAME.search(env.name) and not _NOT_A_SECRET.search(env.name):
            yield from _credential(workload, f"`{env.name}`", env.value, env.location, env.from_env_file)
        for match in _URL_PASSWORD.finditer(env.value):
            yield from _credential(
                workload,
                f"the password in `{env.name}`'s URL",
                match["password"],
                env.location,
                env.from_env_file,
            )


def _arguments(workload: Workload) -> Iterator[Finding]:
    words = workload.arguments
    for index, word in enumerate(words):
        flag, equals, inline_value = word.value.partition("=")
        if flag in _PASSWORD_FLAGS:
            value = inline_value if equals else (words[index + 1].value if index + 1 < len(words) else "")
            yield from _credential(workload, f"`{flag}`", value, word.location, from_env_file=False)
        elif word.value == "--protected-mode" and index + 1 < len(words) and words[index + 1].value == "no":
            yield Finding(
                AUTH_DISABLED,
                word.location,
                workload.name,
                f"`--protected-mode no` lets `{workload.name}` accept unauthenticated remote clients",
            )


def _credential(
    workload: Workload, what: str, value: str, location: Location, from_env_file: bool
) -> Iterator[Finding]:
    written = written_value(value).strip()
    if not written:
        return
    if written.lower() in WELL_KNOWN_VALUES:
        yield Finding(
            WELL_KNOWN,
            location,
            workload.name,
            f"{what} of `{workload.name}` is the well-known value `{written}`",
        )
    elif not from_env_file:  # an env file is where secrets belong; only well-known values are wrong there
        yield Finding(INLINE, location, workload.name, f"{what} of `{workload.name}` is written in the file")
