"""body_decoding: RFC 3676 format=flowed and base64 glued from padded pieces."""

from __future__ import annotations

import base64

from mailgate.body_decoding import base64_pieces, unflow


def test_flowed_lines_are_joined_and_fixed_lines_kept() -> None:
    text = "Goed, maar ik wil de herfstvakantie \nom het jaar.\nTweede regel.\n"
    assert unflow(text) == "Goed, maar ik wil de herfstvakantie om het jaar.\nTweede regel.\n"


def test_only_lines_of_the_same_quote_depth_flow_together() -> None:
    text = "> Vraag die \n> doorloopt.\n>> Ouder \n>> citaat.\nAntwoord \nhier.\n"
    assert unflow(text) == "> Vraag die doorloopt.\n>> Ouder citaat.\nAntwoord hier.\n"


def test_delsp_removes_the_wrap_space_and_stuffing_is_undone() -> None:
    assert unflow("Verlengings\nteken.\n", delsp=True) == "Verlengings\nteken.\n"
    assert unflow("Verlengings \nteken.\n", delsp=True) == "Verlengingsteken.\n"
    assert unflow(" From now on\n") == "From now on\n"


def test_signature_separator_and_blank_lines_never_flow() -> None:
    text = "Tot dan. \n\nGroet\n-- \nKees\n"
    assert unflow(text) == "Tot dan. \n\nGroet\n-- \nKees\n"


def test_base64_glued_from_pieces_is_decoded_whole() -> None:
    one = base64.b64encode(b"Eerste alinea.\n\n").decode()
    two = base64.b64encode(b"Tweede alinea.\n").decode()
    assert one.endswith("=")
    assert base64_pieces(one + "\n" + two.rstrip("=")) == b"Eerste alinea.\n\nTweede alinea.\n"


def test_ordinary_base64_is_left_to_the_standard_decoder() -> None:
    assert base64_pieces(base64.b64encode(b"Gewone tekst.\n").decode()) is None
