"""The tone check: each signal from examples of its own, the hard negatives it must leave calm,
and the data files an administrator extends. Examples are written for these tests only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mediate.config import ConfigError, from_mapping
from mediate.inspect_cmd import run_inspect
from threads.tone import THREAT_KINDS, Level, LexiconError, analyse_tone, learned, load_lexicon

SIGNALS = [
    # (kind, text, the words the excerpt must hold)
    ("shouting", "IK HEB DIT AL VIER KEER UITGELEGD. Lees het nog eens.", "IK HEB DIT"),
    ("shouting", "Fine. WE ARE NOT PAYING FOR YOUR LOFT CONVERSION.", "WE ARE NOT"),
    ("insult", "Eerlijk gezegd is hij gewoon een aartsleugenaar.", "aartsleugenaar"),
    ("insult", "Ga toch weg, stomme kwal.", "kwal"),
    ("insult", "Your cousin is a complete cowboy, and everyone on the street knows it.",
     "cowboy"),
    ("insult", "Thanks for the figures, you absolute muppet.", "muppet"),
    ("profanity", "Wat een klotezooi is dit weer, regel het nou gewoon.", "klotezooi"),
    ("profanity", "Just pay the fucking deposit back, Mark.", "fucking"),
    ("contempt", "Het penningmeestertje heeft natuurlijk weer een mening over ons dak.",
     "weer een mening"),
    ("contempt", "People like you should never have been given a key to the block.",
     "People like you"),
    ("absolute", "Jullie houden je nooit aan wat we afspreken.", "nooit"),
    ("absolute", "You always find a reason to cancel at the last minute.", "always"),
    ("blame", "Door jullie is de hele renovatie uitgelopen.", "Door jullie"),
    ("blame", "And of course it's somehow my fault the van broke down.", "my fault"),
    ("sarcasm", "Goh, wat attent dat je ook eens laat weten dat je later komt.", "Goh"),
    ("sarcasm", "Oh brilliant, so now the surveyor wants paying twice.", "Oh brilliant"),
    ("ultimatum", "Als de borg er maandag niet staat, stap ik naar het juridisch loket.",
     "stap ik"),
    ("ultimatum", "Either the invoice is paid by Thursday or I'm taking my tools off site.",
     "I'm taking"),
    ("threat", "Ik weet precies op welke school je zoontje zit.", "op welke school"),
    ("threat", "Het zou toch jammer zijn als er iets met je nieuwe caravan gebeurde.",
     "jammer"),
    ("threat", "Keep filming my garden and I'll break your nose.", "break your"),
    ("threat", "If that fence goes up I'll put weedkiller on every one of your roses.",
     "weedkiller"),
    ("threat", "Try to take them abroad and you'll never see the boys again.",
     "never see the boys again"),
    ("disclosure_threat",
     "Als je je bod niet verhoogt, vertel ik de hele buurt over je schulden.",
     "vertel ik de hele buurt"),
    ("disclosure_threat",
     "If you go ahead with the sale I'll send your employer those old photos.",
     "your employer"),
    ("self_harm", "Binnenkort ben ik niemand meer tot last.", "niemand meer tot last"),
    ("self_harm", "I keep thinking everyone would be better off without me.",
     "better off without me"),
    ("self_harm", "Please tell my sister I love her. I won't need the flat where I'm going.",
     "where I'm going"),
    ("self_harm", "Ik heb mijn slaappillen opgespaard. Niemand hoeft zich nog druk te maken.",
     "opgespaard"),
    ("threat", "Drive past my house once more and you'll be looking over your shoulder.",
     "looking over your shoulder"),
    ("threat", "Als je naar de rechter stapt, zie je Daan nooit meer terug.", "nooit meer"),
    ("disclosure_threat", "Ik mail die screenshots naar je werkgever als je niet tekent.",
     "ik mail"),
    ("disclosure_threat", "Imagine what the church would say if they found out about the loan.",
     "what the church would say if they found out"),
    ("self_harm", "It would be simpler for everyone if I just vanished.", "if I just vanished"),
    ("threat", "Ga zo door en er vallen klappen, reken maar.", "klappen"),
    # structure, not phrases: target + harm, in both Dutch word orders
    ("threat", "Ik zal je eens flink in elkaar slaan, jij.", "in elkaar slaan"),
    ("threat", "I'm going to batter him when he gets out of the pub.", "batter him"),
    ("threat", "Ik ga die heg van je eigenhandig omzagen als hij niet korter wordt.", "omzagen"),
    ("threat", "Dan zaag ik je heg om, let maar op.", "zaag ik je heg om"),
    ("threat", "I'll wreck that summerhouse of yours if the music goes on past ten.",
     "summerhouse of yours"),
    ("threat", "Your shed might go up in flames one of these nights.", "go up in flames"),
    ("threat", "Nog één keer over de erfgrens en je tuinhuis staat in de fik.", "in de fik"),
    ("threat", "Block my drive one more time and your tyres will be slashed.", "slashed"),
    ("threat", "I know what time your wife leaves the gym.", "leaves"),
    ("threat", "Ik weet op welke dagen je zoon alleen thuis zit.", "alleen thuis"),
    ("threat", "I sat outside your flat three evenings last week.", "outside your flat"),
    ("threat", "I've got some mates who'd happily pay you a visit.", "pay you a visit"),
    ("threat", "Ik heb een zendertje onder je bestelbus geplakt.", "bestelbus"),
    ("threat", "Your husband had better watch himself on the way home.", "watch himself"),
    ("threat", "Pretty roses you've got. Shame how easily they burn.", "Pretty roses"),
    ("threat", "Once I have them in Spain, nobody will ever find us.", "find us"),
    ("disclosure_threat",
     "Drop the complaint or your whole congregation gets to hear what you did.",
     "hear what you"),
    ("disclosure_threat", "Als je niet tekent, laat ik de appjes aan je werkgever zien.",
     "aan je werkgever"),
    ("self_harm", "Straks ben ik er niet meer, dan is het voor iedereen rustiger.",
     "ben ik er"),
    ("self_harm", "I keep wondering how many of my sleeping pills it would take.",
     "how many"),
    ("self_harm", "Ik denk er soms over om van de brug te springen.", "brug"),
    ("self_harm", "This is my last email to any of you. Sorry for everything.",
     "last email"),
    ("insult", "Wat een waardeloze penningmeester hebben we.", "waardeloze penningmeester"),
    ("insult", "Ben je nou compleet gestoord?", "gestoord"),
    ("insult", "Je bent een zuipschuit.", "zuipschuit"),
    ("profanity", "Donder toch op met je zogenaamde compromis.", "Donder toch op"),
    ("blame", "Dankzij jouw gedraai zijn we de koper kwijt.", "kwijt"),
    ("blame", "You've ruined the sale for all of us.", "ruined"),
    ("contempt", "Wie denkt die man wel dat hij is?", "Wie denkt"),
    ("contempt", "Shut your mouth about my family.", "Shut your mouth"),
    ("sarcasm", "Nice of you to finally pick up the phone.", "Nice of you to finally"),
    ("ultimatum", "If you haven't paid the invoice by the 30th, I'm starting proceedings.",
     "proceedings"),
    ("ultimatum", "De sleutels liggen vrijdag hier, of ik vervang de sloten.",
     "ik vervang de sloten"),
    # families added on 2026-12-05 from blind sets 7-10 (own wording, not the sets')
    ("threat", "I parked across from your flat on Friday. Get some curtains.",
     "across from your flat"),
    ("threat", "Ik liep vanmiddag achter je bij de markt. Ik zie alles wat je doet.",
     "ik zie alles"),
    ("threat", "Once I have the children in Portugal they are not coming back.",
     "not coming back"),
    ("threat", "Those screenshots will end up in your family group chat unless you withdraw.",
     "screenshots"),
    ("threat", "Old barns burn down so easily in August. Something to think about.", "burn down"),
    ("threat", "Say that again and I'll snap every bone in your fingers.", "every bone"),
    ("threat", "I'll make sure Sam turns against you, every single weekend.", "turns against you"),
    ("self_harm", "I've given my tools to my brother. I won't be needing them where I'm going.",
     "where I'm going"),
    ("self_harm", "Bedankt voor alles. Makkelijker voor iedereen als ik er niet meer ben.",
     "makkelijker voor iedereen"),
]

CALM = [
    # legitimate legal steps, however firmly put
    "Ik laat mijn advocaat een voorstel doen voor de verdeling van de inboedel.",
    "If we still disagree in March, I'll ask the court to decide the holiday schedule.",
    "Als we er in april niet uit zijn, leg ik het aan de kantonrechter voor.",
    # acronyms and names in capitals, one emphasised word, capitals quoted from a document
    "De VvE stuurt de stukken voor de ALV; de CAO-verhoging staat in de brief van HR en UWV.",
    "CAFCASS asked for the CMS letter and our HOA minutes before the hearing.",
    "In de akte staat PIETER JAN VAN DAM als koper, dat is mijn oom.",
    "I am NOT asking for the car, only for the piano.",
    'The sign on the gate says "PRIVATE ROAD NO TURNING" and it has always been there.',
    # quoted or reported insults and threats the writer received
    'Op het schoolplein noemde hij mij "een vuile leugenaar". Dat deed pijn.',
    "My brother-in-law called me a parasite at the wake. I did not answer him.",
    'Ze zei tegen me: "straks steek ik je schuur in de fik". Ik wil dat u dat weet.',
    # harmless idiom
    "Ik dood de tijd wel even in het café tot de sessie begint.",
    "That commute kills me, so could we meet online on Friday?",
    "Ik schrok me dood toen ik de offerte voor het dak zag.",
    # swearing at one's own mistake
    "Verdorie, ik ben de bijlage vergeten, sorry. Hier is hij.",
    "Damn, wrong week in my last mail, apologies. It's the 14th.",
    # sadness is not hopelessness; firm is not heated; knowing is not stalking
    "Ik mis mijn moeder elke dag en ik slaap slecht, maar ik wil dit netjes afronden.",
    "My answer is no: I won't sell below the valuation, but I'm open to instalments.",
    "Ik weet dat je vroeg begint, dus ik breng de kinderen om zeven uur.",
    "We should tell the grandparents about the new arrangement together.",
    "Ik zie het niet zitten om op zaterdag te vergaderen, kan het doordeweeks?",
    "Sorry voor mijn mail van gisteren, het was niet eerlijk om te zeggen dat je nooit helpt.",
    # words that threats are made of, in ordinary sentences
    "If you don't hear from me by Friday I'll phone you on Monday.",
    "I'll send the invoice to your work email if that's easier.",
    "Jammer dat er iets met je fiets is gebeurd, hopelijk komt hij terug.",
    "Ik weet welke school het beste past bij Noor, laten we het samen bespreken.",
    "Ik hou de planning van de aannemer goed in de gaten.",
    "We took the children to the circus on Sunday and they loved it.",
    "Je vader zou het leuk vinden om de kinderen met Pasen te zien.",
    "Wat doet de verzekering als de schuur ooit in brand vliegt?",
    "It would be a shame to lose the old pear tree, shall we ask a tree surgeon?",
    # swearing at the situation, not at someone
    "Bloody hell, the ferry was cancelled again, so I'll be late.",
    "Verdomme, de printer staat weer vast. Ik scan het morgen in.",
    # sweeping words about one's own life
    "The school run wears me out every single morning.",
    # presence and knowledge with a reason given
    "I'll be outside your office at noon to hand over the passports.",
    "Ik kom zaterdag langs je huis om de fietsen van de kinderen op te halen.",
    "I know what time your train gets in, so I'll bring the boys to the station.",
    # words of harm in ordinary use
    "Ik sla de vergadering van dinsdag over, ik zit dan bij de notaris.",
    "I'll cut the hedge back on my side this weekend, as agreed.",
    "If you like, I'll send the photos of the kids to your mum.",
    "Je moeder kan zaterdag oppassen, dat vinden de kinderen leuk.",
    "If the lawyers can't agree, I'll ask the court to decide.",
    "Ik wil je geen pijn doen, ik wil alleen dat we dit netjes regelen.",
    "The new roof would be a shame to waste on a cheap contractor.",
    "I'm going to end the contract with the cleaning company at the end of the month.",
    # estate planning is not a goodbye
    "Mijn testament ligt bij de notaris, dat hebben we vorig jaar al geregeld.",
    # shapes that share words with the new families and must stay calm
    "I know what time your flight lands; I can collect the kids so you don't have to.",
    "Ik weet hoe laat je trein aankomt, ik haal de kinderen dan wel bij je op.",
    "I'll come by your office on Friday so we can go through the figures together.",
    "It would be a shame if we threw away what we agreed last spring.",
    "Locked myself out of the portal again, what an idiot. Could you send the link?",
    "Wat een sukkel ben ik toch, ik ben de formulieren weer vergeten.",
    "Could you send the photos of our holiday to my mum? She keeps asking.",
]


@pytest.mark.parametrize(("kind", "text", "excerpt"), SIGNALS,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SIGNALS)])
def test_each_signal_is_found_with_the_words_that_raised_it(kind: str, text: str,
                                                            excerpt: str) -> None:
    tone = analyse_tone(text)
    found = [s for s in tone.signals if s.kind == kind]
    assert found, tone
    assert any(excerpt.lower() in s.excerpt.lower() for s in found), found
    threatening = kind in {"threat", "disclosure_threat", "self_harm"}
    assert tone.level == (Level.THREATENING if threatening else tone.level)
    assert tone.level != Level.CALM


# Calm, and the rules leave them so; the learned table still guesses a threat in them. The
# mediator then sees a guess, named as one, with the words that weighed: the price of its
# recall, kept visible here (two more left this list when calm mail with heavy words joined
# the examples and the threshold moved to even odds; they are in HEAVY_BUT_CALM below).
GUESSED = [
    "My dad is in hospital, so I won't be around much this week.",
]

# Calm mail with heavy words that the learned table once read as a threat or self-harm.
HEAVY_BUT_CALM = [
    "I never told anyone about the debts.",
    "If anything happens to the children while they are with you, please call me at once.",
    "I know some lads who can come round on Saturday and fix the fence.",
]


@pytest.mark.parametrize("text", HEAVY_BUT_CALM)
def test_heavy_words_in_calm_mail_are_not_read_as_a_threat(text: str) -> None:
    assert analyse_tone(text).level == Level.CALM


@pytest.mark.parametrize("text", GUESSED)
def test_the_rules_leave_these_calm_and_a_learned_guess_says_it_is_one(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    guessed = [s for s in analyse_tone(text).signals if s.kind in THREAT_KINDS]
    assert guessed and all(s.cues and s.cues[0].startswith("learned: ") for s in guessed)
    monkeypatch.setattr(learned, "THRESHOLD", float("inf"))
    monkeypatch.setattr(learned, "HEATED_THRESHOLD", float("inf"))
    assert analyse_tone(text).level == Level.CALM


@pytest.mark.parametrize("text", CALM)
def test_hard_negatives_stay_calm(text: str) -> None:
    tone = analyse_tone(text)
    assert tone.level == Level.CALM, tone.signals
    assert tone.signals == ()


def test_a_message_takes_the_level_of_its_worst_sentence() -> None:
    friendly = ("Dank voor het verslag, ik ben akkoord met de planning. "
                "De sleutels liggen bij de buren. ")
    assert analyse_tone(friendly).level == Level.CALM
    assert analyse_tone(friendly + "Die penningmeester is een oplichter.").level == Level.HEATED
    threat = friendly + "Ik weet waar je woont, denk daar maar eens over na."
    assert analyse_tone(threat).level == Level.THREATENING


def test_a_quoted_insult_is_not_the_writers_but_an_added_one_is() -> None:
    reported = 'She told the neighbours I was "a lying cow". I want that to stop.'
    assert analyse_tone(reported).level == Level.CALM
    added = reported + " She is a vicious hypocrite."
    tone = analyse_tone(added)
    assert tone.level == Level.HEATED
    assert [s.excerpt for s in tone.signals if s.kind == "insult"] == ["hypocrite"]


def test_sarcasm_that_only_wounds_next_to_other_heat_needs_it() -> None:
    assert analyse_tone("Fascinating.").level == Level.CALM
    kinds = {s.kind for s in analyse_tone("Fascinating. People like you never learn.").signals}
    assert {"sarcasm", "contempt"} <= kinds


def test_quiet_goodbyes_add_up_to_a_self_harm_signal() -> None:
    one = "Zeg tegen Femke dat ik van haar hou."
    assert analyse_tone(one).level == Level.CALM
    two = one + " Mijn spullen heb ik al weggegeven."
    tone = analyse_tone(two)
    assert tone.level == Level.THREATENING
    assert [s.kind for s in tone.signals] == ["self_harm"]


def test_an_administrator_file_extends_the_shipped_lists(tmp_path: Path) -> None:
    text = "Die vent is een echte zeurkous."
    assert analyse_tone(text).level == Level.CALM
    extra = tmp_path / "ours.toml"
    extra.write_text('language = "nl"\n[words]\ninsult = ["zeurkous"]\n'
                     '[[pattern]]\nkind = "contempt"\nmatch = \'\'\'\\bdie vent\\b\'\'\'\n',
                     encoding="utf-8")
    tone = analyse_tone(text, load_lexicon([extra]))
    assert {(s.kind, s.excerpt) for s in tone.signals} == {
        ("insult", "zeurkous"), ("contempt", "Die vent")}


def test_a_broken_tone_file_names_its_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text('language = "fr"\n', encoding="utf-8")
    worse = tmp_path / "worse.toml"
    worse.write_text('language = "en"\nwordz = 1\n[[pattern]]\nkind = "rage"\nmatch = "x"\n'
                     '[[pattern]]\nkind = "insult"\nmatch = "(unclosed"\n', encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        load_lexicon([bad, worse])
    problems = "\n".join(caught.value.problems)
    assert "broken.toml: 'language' must be one of nl, en, any" in problems
    assert "worse.toml: unknown key 'wordz'" in problems
    assert "worse.toml: pattern[0]: unknown kind 'rage'" in problems
    assert "worse.toml: pattern[1]: match is not a valid regular expression" in problems


def test_the_config_key_is_checked_when_the_configuration_loads(tmp_path: Path) -> None:
    (tmp_path / "extra.toml").write_text('language = "en"\n[words]\ninsult = 3\n',
                                         encoding="utf-8")
    data = {"service": {"secret_key": "x" * 32},
            "mediators": [{"email": "m@example.org", "name": "M"}],
            "tone": {"extra_files": ["extra.toml"]}}
    with pytest.raises(ConfigError) as caught:
        from_mapping(data, tmp_path, environ={})
    assert caught.value.problems == [
        "tone.extra_files: extra.toml: words.insult: must be a list of strings"]


def test_inspect_json_reports_the_tone_of_the_new_words(tmp_path: Path, capsys) -> None:
    mail = tmp_path / "reply.eml"
    mail.write_bytes(
        b"From: Party <party@example.com>\r\nTo: 2026-001+abc@mediation.example.org\r\n"
        b"Subject: Re: [2026-001] Case\r\nMessage-ID: <t1@example.com>\r\n"
        b"Date: Mon, 02 Mar 2026 09:42:00 +0100\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Je bent een leugenaar en dat weet je best.\r\n")
    args = argparse.Namespace(file=str(mail), config=None, as_reply_from=None, json=True)
    assert run_inspect(args) == 0
    tone = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tone"]
    assert tone["level"] == "heated"
    assert {"kind": "insult", "excerpt": "leugenaar"} in tone["signals"]
    assert {s["kind"] for s in tone["signals"]} == {"insult", "blame"}


def test_a_class_an_administrator_extends_teaches_every_rule_that_uses_it(
        tmp_path: Path) -> None:
    text = "Your gazebo will be the next thing to go."
    # a gazebo is not in the shipped property: no rule names it (the learned table may guess)
    assert not [s for s in analyse_tone(text).signals if not s.cues]
    extra = tmp_path / "garden.toml"
    extra.write_text('language = "en"\n[classes]\nproperty = ["gazebo"]\n', encoding="utf-8")
    tone = analyse_tone(text, load_lexicon([extra]))
    assert tone.level == Level.THREATENING
    assert any("gazebo" in s.excerpt for s in tone.signals)


def test_a_pattern_naming_an_unknown_class_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('language = "nl"\n[[pattern]]\nkind = "threat"\nmatch = "{nergens} x"\n'
                   '[classes]\n"Hoofd" = ["x"]\n', encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        load_lexicon([bad])
    problems = "\n".join(caught.value.problems)
    assert "bad.toml: pattern[0]: unknown class {nergens}" in problems
    assert "bad.toml: classes: 'Hoofd' must be lower case letters, digits, _" in problems


def test_swearing_aimed_at_the_reader_still_counts() -> None:
    assert analyse_tone("Bloody hell, you never listen.").level == Level.HEATED
    tone = analyse_tone("Shit, the bus is late. Fuck you, Dave.")
    assert [s.excerpt for s in tone.signals if s.kind == "profanity"] == ["Fuck"]
