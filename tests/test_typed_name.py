"""The name typed under a signature: the party's own name, as people really type it."""

from __future__ import annotations

import pytest

from threads.agreement import same_name, signing_problems
from threads.models import Participant

ACCEPTED = [
    ("Sanne de Wit", "Sanne de Wit"),
    ("sanne de wit", "Sanne de Wit"),
    ("  Sanne   de  Wit ", "Sanne de Wit"),
    ("S. de Wit", "Sanne de Wit"),
    ("S de Wit", "Sanne de Wit"),
    ("S.J. de Wit", "Sanne Johanna de Wit"),
    ("S. J. de Wit", "Sanne Johanna de Wit"),
    ("Sanne J. de Wit", "Sanne Johanna de Wit"),
    ("Jose Muller", "José Müller"),
    ("Zoë van der Berg", "Zoe van der Berg"),
    ("Z. van der Berg", "Zoë van der Berg"),
    ("Anne-Marie Jansen", "Anne-Marie Jansen"),
    ("A.M. Jansen", "Anne-Marie Jansen"),
    ("Cher", "Cher"),
]
REFUSED = [
    ("Bram de Wit", "Sanne de Wit"),  # another first name
    ("S. de Vries", "Sanne de Wit"),  # another surname
    ("Sanne", "Sanne de Wit"),  # no surname
    ("de Wit", "Sanne de Wit"),  # no first name
    ("Sanne de W.", "Sanne de Wit"),  # the surname is never an initial
    ("S. de Wit", "Sanne Johanna de Wit"),  # one initial for two first names
    ("T. de Wit", "Sanne de Wit"),
    ("", "Sanne de Wit"),
]


@pytest.mark.parametrize(("typed", "name"), ACCEPTED)
def test_the_own_name_is_accepted_with_case_accents_spaces_and_initials(typed, name):
    assert same_name(typed, name)


@pytest.mark.parametrize(("typed", "name"), REFUSED)
def test_another_or_an_incomplete_name_is_refused(typed, name):
    assert not same_name(typed, name)


def test_a_refusal_says_what_name_is_expected_and_that_initials_will_do():
    party = Participant(case_id=1, role="party", name="Sanne de Wit", email="s@x.test",
                        language="nl", token="t" * 16)
    problem = signing_problems(party, "Bram", consent=True)["typed_name"]
    assert problem["code"] == "name-mismatch"
    assert problem["params"] == {"name": "Sanne de Wit", "example": "S. de Wit"}
