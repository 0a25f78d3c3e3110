"""The one error the audit raises for input it cannot read; the CLI turns it into exit 2."""

from __future__ import annotations


class AuditInputError(Exception):
    """A file the audit was asked to read is missing, unreadable, malformed or of an unknown kind.

    The message is one line that starts with the file (and line, when known) and says what is wrong.
    """
