"""extract_reply: only the new words reach the other parties."""

from __future__ import annotations

import time

import pytest

from mailgate.reply_text import REMOVED, extract_reply, scrub


@pytest.mark.parametrize("attribution", [
    "On Tue, Mar 3, 2026 at 10:12 AM Mediator Bakker <case+tok@mediation.example.org> wrote:",
    "Op di 3 mrt 2026 om 10:12 schreef Mediator Bakker <case+tok@mediation.example.org>:",
    "Op 3 mrt. 2026 om 10:12 heeft Mediator Bakker <case+tok@mediation.example.org> het "
    "volgende geschreven:",
    "Am Di., 3. März 2026 um 10:12 Uhr schrieb Mediator <case+tok@mediation.example.org>:",
    "Le mar. 3 mars 2026 à 10:12, Mediator <case+tok@mediation.example.org> a écrit :",
    "---- On Tue, 03 Mar 2026 10:12:00 +0100 Mediator wrote ----",
    "2026-03-03 10:12 GMT+01:00 Mediator <case+tok@mediation.example.org>:",
])
def test_attribution_and_quote_are_removed(attribution: str) -> None:
    text = f"Akkoord.\n\n{attribution}\n\n> Gaat u akkoord?\n> Groet\n"
    assert extract_reply(text) == "Akkoord."


def test_attribution_wrapped_over_two_lines() -> None:
    text = ("Akkoord.\n\nOn Tue, Mar 3, 2026 at 10:12 AM Mediator Bakker <\n"
            "case+tok@mediation.example.org> wrote:\n\n> Gaat u akkoord?\n")
    assert extract_reply(text) == "Akkoord."


@pytest.mark.parametrize("block", [
    "________________________________\nVan: Mediator <m@x.nl>\nVerzonden: dinsdag 3 maart 2026"
    " 10:12\nAan: Jan <j@x.nl>\nOnderwerp: Voorstel",
    "-----Oorspronkelijk bericht-----\nVan: Mediator <m@x.nl>\nVerzonden: dinsdag 3 maart 2026"
    "\nAan: Jan\nOnderwerp: Voorstel",
    "-----Original Message-----\nFrom: Mediator <m@x.nl>\nSent: Tuesday, March 3, 2026 10:12"
    "\nTo: Jan\nSubject: Proposal",
    "*From:* Mediator <m@x.nl>\n*Sent:* Tuesday, March 3, 2026 10:12\n*To:* Jan",
])
def test_outlook_header_block_and_everything_below_is_removed(block: str) -> None:
    text = f"Ik ga akkoord.\nTot dinsdag.\n\n{block}\n\nOude tekst die weg moet.\n"
    assert extract_reply(text) == "Ik ga akkoord.\nTot dinsdag."


def test_inline_answers_between_quotes_are_kept() -> None:
    text = ("Op 4 mrt 2026 om 16:30 schreef Mediator:\n> Vraag een?\n\nAntwoord een.\n\n"
            "> Vraag twee?\n\nAntwoord twee.\n")
    assert extract_reply(text) == "Antwoord een.\n\nAntwoord twee."


@pytest.mark.parametrize("footer", [
    "Verzonden vanaf mijn iPhone", "Sent from my iPhone", "Get Outlook for iOS",
    "Outlook voor Android downloaden", "Sent from my Galaxy",
])
def test_mobile_footer_is_removed(footer: str) -> None:
    assert extract_reply(f"Prima.\n\n{footer}\n") == "Prima."


def test_a_sentence_that_starts_like_a_footer_is_kept() -> None:
    text = "Here it is.\n\nSent from my desk, which is easier than my phone."
    assert extract_reply(text) == text


def test_dash_dash_signature_is_removed() -> None:
    assert extract_reply("Prima.\n\n-- \nJan Jansen\n06-12345678\n") == "Prima."


def test_closing_and_name_stay_and_the_contact_details_below_go() -> None:
    text = ("Ik ga akkoord.\n\nMet vriendelijke groet,\n\nJan Jansen\nTel. 06-12345678\n"
            "Dorpsstraat 1, Utrecht\n")
    assert extract_reply(text) == "Ik ga akkoord.\n\nMet vriendelijke groet,\n\nJan Jansen"


@pytest.mark.parametrize(("closing", "kept"), [
    ("Groetjes,\nSanne", "Groetjes,\nSanne"),
    ("Groetjes, Sanne", "Groetjes, Sanne"),
    ("Thanks,\nAlex", "Thanks,\nAlex"),
    ("Thanks, Alex", "Thanks, Alex"),
    ("Kind regards,\n\nRebecca Lewis", "Kind regards,\n\nRebecca Lewis"),
])
def test_a_partys_closing_and_name_are_kept(closing: str, kept: str) -> None:
    assert extract_reply(f"Dat is goed.\n\n{closing}\n") == f"Dat is goed.\n\n{kept}"


def test_a_contact_block_after_a_long_disclaimer_line_goes() -> None:
    disclaimer = ("Dit bericht is uitsluitend bestemd voor de geadresseerde. Als u dit bericht "
                  "onterecht ontvangt, wordt u verzocht de inhoud niet te gebruiken en de "
                  "afzender direct te informeren door het bericht te retourneren.")
    text = ("Prima, dan zie ik u dinsdag.\n\nMet vriendelijke groet,\nKarin Bos\n"
            "Office manager | Bos & Partners\nT: +31 (0)20 123 45 67\n"
            "E: karin@bospartners.example.nl\n\n" + disclaimer + "\n")
    assert extract_reply(text) == ("Prima, dan zie ik u dinsdag.\n\nMet vriendelijke groet,\n"
                                   "Karin Bos")


def test_contact_lines_without_a_closing_go() -> None:
    text = ("Ik kan donderdag niet.\n\nPiet de Wit\n06-12345678\n"
            "piet@example.nl\n")
    assert extract_reply(text) == "Ik kan donderdag niet."


def test_a_postscript_after_the_closing_stays() -> None:
    text = "Goed.\n\nGroet,\nPiet\n\nPS: ik neem de papieren mee.\n"
    assert extract_reply(text) == text.strip()


def test_verzonden_vanaf_mijn_iphone_goes_and_the_closing_stays() -> None:
    text = "Akkoord.\n\nGroetjes,\nSanne\n\nVerzonden vanaf mijn iPhone\n"
    assert extract_reply(text) == "Akkoord.\n\nGroetjes,\nSanne"


def test_a_closing_followed_by_a_long_paragraph_is_not_a_signature() -> None:
    text = ("Ik ga akkoord.\n\nGroeten\n\n" + "Daarnaast wil ik nog iets kwijt over de "
            "verdeling van de inboedel, want dat is nog helemaal niet besproken tijdens de sessie.")
    assert extract_reply(text) == text


def test_mediator_commands_at_the_top_are_kept() -> None:
    text = "#approve\n#time 1h30 overleg\n\nOp do 5 mrt 2026 om 09:12 schreef Mediate <m@x>:\n> x\n"
    assert extract_reply(text) == "#approve\n#time 1h30 overleg"


def test_a_lone_command_is_not_taken_for_a_signature_or_quote() -> None:
    assert extract_reply("#reject te emotioneel geformuleerd\n") == (
        "#reject te emotioneel geformuleerd")


def test_a_message_that_is_only_a_forward_keeps_its_content() -> None:
    text = ("---------- Forwarded message ---------\nFrom: Jan <j@x.nl>\n"
            "Sent: Tuesday, March 3, 2026\nTo: Piet\n\nDe oude tekst.\n")
    assert "De oude tekst." in extract_reply(text)


def test_a_header_block_with_nothing_above_it_is_quoted_history_only() -> None:
    text = "From: Jan <j@x.nl>\nSent: Tuesday, March 3, 2026\nTo: Piet\n\nDe oude tekst.\n"
    assert extract_reply(text) == ""


def test_text_without_any_history_is_returned_whole() -> None:
    text = "Regel een.\n\n\n   - opsomming\n   - nog een"
    assert extract_reply(text) == text


def test_crlf_is_normalised() -> None:
    assert extract_reply("Ja.\r\n\r\n> oud\r\n") == "Ja."


def test_huge_quote_is_fast() -> None:
    quoted = ("> " + "x" * 70 + "\n") * 11000  # about 800 KB
    long_line = "y" * 200_000 + "\n"
    text = "Kort antwoord.\n\nOn Tue, Mar 3, 2026 at 10:12 AM Jan <j@x.nl> wrote:\n" + quoted
    start = time.perf_counter()
    assert extract_reply(text) == "Kort antwoord."
    assert extract_reply(long_line + quoted).startswith("y")
    assert time.perf_counter() - start < 1.0


def test_the_authors_address_and_our_reply_tokens_are_never_passed_on() -> None:
    text = ("Mail me gerust op Jan.Bos@Example.nl of via 2026-014+k3j5h2@mediation.test.\n"
            "Groet, Jan")
    out = scrub(text, ["jan.bos@example.nl"], "mediation.test")
    assert "example.nl" not in out.lower() and "+k3j5h2" not in out
    assert out.count(REMOVED) == 2 and out.endswith("Groet, Jan")


@pytest.mark.parametrize(("name", "text"), [
    ("oorspronkelijk bericht joined to Van: by format=flowed",
     "Ja, dat klopt.\n\n----- Oorspronkelijk bericht ----- Van: Maria de Vries <m@x.nl>\n"
     "Aan: Jan <jan@x.nl>\nVerzonden: dinsdag 3 maart 2026 10:12\nOnderwerp: Voorstel\n\n"
     "Beste Jan, hier het voorstel.\n"),
    ("gmail dated attribution with | quoting",
     "Ja, dat klopt.\n\n2013/7/20 Maria de Vries <maria@x.nl>\n\n| Beste Jan,\n"
     "| hier het voorstel.\n"),
    ("gmail dated attribution with > quoting",
     "Ja, dat klopt.\n\n2013/7/20 Maria de Vries <maria@x.nl>\n\n> Beste Jan,\n"),
    ("attribution wrapped over four lines with a mailto: line",
     "Ja, dat klopt.\n\nOp di 3 mrt. 2026 om 10:12 schreef Maria de\nVries <\n"
     "mailto:maria@x.nl\n>:\n\n> Beste Jan,\n> hier het voorstel.\n"),
])
def test_quoted_history_in_the_shapes_clients_send_is_dropped(name: str, text: str) -> None:
    assert extract_reply(text) == "Ja, dat klopt.", name


def test_inline_answers_below_a_long_first_line_are_kept() -> None:
    text = ("Hallo Maria, ik heb hieronder tussen je tekst door geantwoord, zodat het "
            "overzichtelijk blijft.\n\nOp di 3 mrt. 2026 om 10:12 schreef Maria <m@x.nl>:\n"
            "> Kun je dinsdag?\n\nJa, dinsdag kan ik.\n\n> En neem je de papieren mee?\n\n"
            "Die neem ik mee.\n")
    out = extract_reply(text)
    assert "Ja, dinsdag kan ik." in out and out.endswith("Die neem ik mee.")
    assert "Kun je dinsdag" not in out


def test_a_reply_of_quoted_history_only_has_no_new_text() -> None:
    text = "Op di 3 mrt. 2026 om 10:12 schreef Maria <m@x.nl>:\n> Kun je dinsdag?\n"
    assert extract_reply(text) == ""
