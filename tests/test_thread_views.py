"""Rebuild each recipient's mailbox the way Gmail, Outlook and Thunderbird group threads, and
check that a case is one conversation (and each private line its own) in every client."""

from __future__ import annotations

import base64
import re

from conftest import MEDIATOR
from test_mediator_mail import private_line
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

_PREFIX = re.compile(r"^\s*((re|aw|antw|fw|fwd)\s*:\s*)+", re.I)


class Groups:
    """Union-find over one mailbox."""

    def __init__(self, messages):
        self.parent = list(range(len(messages)))

    def find(self, i):
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a, b):
        self.parent[self.find(a)] = self.find(b)

    def count(self):
        return len({self.find(i) for i in range(len(self.parent))})


def linked(messages, same):
    """Group messages that reference one another (References/In-Reply-To) when ``same``."""
    groups = Groups(messages)
    ids = {m["Message-ID"]: i for i, m in enumerate(messages)}
    for i, message in enumerate(messages):
        refs = (message["References"] or "").split() + [message["In-Reply-To"] or ""]
        for ref in refs:
            j = ids.get(ref)
            if j is not None and same(messages[i], messages[j]):
                groups.join(i, j)
    return groups


def thunderbird(messages):
    return linked(messages, lambda a, b: True).count()


def gmail(messages):
    def subject(m):
        return _PREFIX.sub("", m["Subject"]).strip().lower()

    return linked(messages, lambda a, b: subject(a) == subject(b)).count()


def outlook(messages):
    keys = {(m["Thread-Topic"], base64.b64decode(m["Thread-Index"])[:22]) for m in messages}
    return len(keys)


def views(messages):
    return {"gmail": gmail(messages), "outlook": outlook(messages),
            "thunderbird": thunderbird(messages)}


async def test_one_case_is_one_thread_and_each_private_line_its_own_in_every_client(
    service, sink
):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "First from Anna.")
    review = sink.to(MEDIATOR)[-1]
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve",
                in_reply_to=review.message["Message-ID"])
    await reply(service, MEDIATOR, address[MEDIATOR], "Thanks. Bram, your view?")
    await reply(service, BRAM, address[BRAM], "I see it differently.")
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    await reply(service, ANNA, private_line(service, ANNA), "Privately: I am tired.")
    anna_private = sink.to(MEDIATOR)[-1]
    await reply(service, MEDIATOR, anna_private.message["Reply-To"],  # their own line to Anna
                "Understood, take your time.", in_reply_to=anna_private.message["Message-ID"])
    await reply(service, CEES, private_line(service, CEES), "Privately: a question.")

    def box(address_):
        return [d.message for d in sink.to(address_)]

    anna = box(ANNA)
    shared = [m for m in anna if "(private)" not in m["Subject"]]
    private = [m for m in anna if "(private)" in m["Subject"]]
    # the receipt for her held message and the mediator's answer: both on her private line
    assert len(shared) >= 3 and len(private) == 2
    assert views(shared) == {"gmail": 1, "outlook": 1, "thunderbird": 1}
    assert views(anna) == {"gmail": 2, "outlook": 2, "thunderbird": 2}
    assert views(box(BRAM)) == {"gmail": 2, "outlook": 2, "thunderbird": 2}  # his receipt
    assert views(box(CEES)) == {"gmail": 1, "outlook": 1, "thunderbird": 1}
    # The mediator: the whole case in one thread, plus one per party's private line.
    assert views(box(MEDIATOR)) == {"gmail": 3, "outlook": 3, "thunderbird": 3}
    for message in anna + box(MEDIATOR):
        subject = message["Subject"]
        assert subject.startswith(f"[{opened.ref}] ") and subject.count(f"[{opened.ref}]") == 1
        assert not re.search(r"\b(re|aw|antw):", subject, re.I)
