"""Who acts: the names written into the audit trail and the sign-out columns.

A name is 1–200 characters of letters, digits and ``. _ - @ : +``, starting with a letter or
digit (``dr.lee``, ``lab``, ``j.smith@example.org``, ``web:anonymous``). Anything else — blanks,
spaces, markup such as ``<b>``, quotes, control characters — is refused, so a signer's name
prints safely on a page, in a report and in a terminal.
"""

from __future__ import annotations

import re

from trephine.errors import ValidationError

ACTOR_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,199}")
#: The rule in words, for refusals and docs.
ACTOR_RULE = "a user name of 1-200 letters, digits and . _ - @ : + starting with a letter or digit"


def check_actor(name: object, field: str = "actor") -> str:
    """``name`` if it is a valid actor name, else :class:`ValidationError` naming ``field``."""
    if not isinstance(name, str) or not ACTOR_PATTERN.fullmatch(name):
        raise ValidationError(field, name, ACTOR_RULE)
    return name
