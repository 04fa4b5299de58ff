"""Our Message-IDs and subject tokens: recognisable as ours, impossible to guess."""

from __future__ import annotations

from hub.channels.email.tokens import Signer, reply_subject, strip_token


def test_message_ids_are_stable_and_verifiable() -> None:
    signer = Signer("secret", "support-mail")
    mid = signer.message_id(42, "example.com")
    assert mid == signer.message_id(42, "example.com")  # every retry of message 42 is the same mail
    assert mid.startswith("hub.42.") and mid.endswith("@example.com")
    assert signer.own_message(f"<{mid}>") == 42
    assert signer.own_message(mid.replace("hub.42.", "hub.43.")) is None  # MAC of 42, not 43
    assert Signer("other secret", "support-mail").own_message(mid) is None
    assert Signer("secret", "other-mailbox").own_message(mid) is None
    assert signer.own_message("CAF2x7@mail.example.de") is None


def test_a_subject_token_names_its_conversation_only_with_a_valid_mac() -> None:
    signer = Signer("secret", "support-mail")
    token = signer.token(1234)
    assert token.startswith("[#1234-") and token.endswith("]")
    assert signer.conversation_in(f"AW: Re: Frage {token}") == 1234
    forged = token.replace("[#1234-", "[#1235-")
    assert signer.conversation_in(f"Re: {forged}") is None
    assert signer.conversation_in("Re: [#1234-00000000]") is None
    assert signer.conversation_in(None) is None


def test_reply_subjects_never_stack_prefixes_or_tokens() -> None:
    signer = Signer("secret", "support-mail")
    token = signer.token(7)
    assert reply_subject("Frage zur Rechnung", token) == f"Re: Frage zur Rechnung {token}"
    assert reply_subject(f"AW: Re: Frage zur Rechnung {token}", token) == f"Re: Frage zur Rechnung {token}"
    assert reply_subject(None, token) == f"Re: {token}"
    assert strip_token(f"Re: Frage {token}") == "Re: Frage"
