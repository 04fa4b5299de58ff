"""SMS keywords: a message that is only STOP, START or HELP (in any case, with spaces) is a command.

https://help.twilio.com/articles/223134027 — Twilio's default opt-out keywords (STOP,
STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; also REVOKE and OPTOUT), opt-in keywords
(START, YES, UNSTOP) and help keywords (HELP, INFO). Only the whole message counts:
"please stop calling me at work" is a message for an agent, not an opt-out.
"""

from __future__ import annotations

import enum

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def classify(body: str) -> tuple[Keyword, str] | None:
    """The keyword ``body`` consists of (and its normalized spelling), or None for a normal message."""
    word = body.strip().upper()
    if not word or any(ch.isspace() for ch in word):
        return None
    if word in OPT_OUT:
        return Keyword.OPT_OUT, word
    if word in OPT_IN:
        return Keyword.OPT_IN, word
    if word in HELP:
        return Keyword.HELP, word
    return None
