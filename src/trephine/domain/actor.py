"""Who acts: the names written into the audit trail and the sign-out columns.

A name is 1–200 characters of letters, digits and ``. _ - @ : +``, starting with a letter or
digit (``dr.lee``, ``lab``, ``j.smith@example.org``, ``web:anonymous``). Anything else — blanks,
spaces, markup such as ``<b>``, quotes, control characters — is refused, so a signer's name
prints safely on a page, in a report and in a terminal.

Account names (``trephine users add``) follow the same rule without ``:``, which is kept for the
system's own actors (``web:anonymous``, ``web:auth``, ``web:oidc``), so no account can be
named like one of them. One rule, one home: ``services/accounts.py`` checks names here.
"""

from __future__ import annotations

import re

from trephine.errors import ValidationError

ACTOR_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,199}")
#: The rule in words, for refusals and docs.
ACTOR_RULE = "a user name of 1-200 letters, digits and . _ - @ : + starting with a letter or digit"


ACCOUNT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
ACCOUNT_RULE = (
    "an account name of 1-200 letters, digits and . _ - @ + starting with a letter or digit "
    "(':' is kept for system actors such as web:anonymous)"
)


def check_account_name(name: object, field: str = "name") -> str:
    """``name`` if it may name an account (an actor name without ``:``), else
    :class:`ValidationError` naming ``field``."""
    if not isinstance(name, str) or not ACCOUNT_PATTERN.fullmatch(name):
        raise ValidationError(field, name, ACCOUNT_RULE)
    return check_actor(name, field)


def check_actor(name: object, field: str = "actor") -> str:
    """``name`` if it is a valid actor name, else :class:`ValidationError` naming ``field``."""
    if not isinstance(name, str) or not ACTOR_PATTERN.fullmatch(name):
        raise ValidationError(field, name, ACTOR_RULE)
    return name
