"""Extract the new words of a reply: drop quoted history and signatures.

What real clients do, and what this module therefore recognises:

* an attribution line before the quote: Apple Mail/Gmail/Thunderbird "On <date>, <name> wrote:",
  Dutch "Op <date> schreef <name>:", German "Am ... schrieb ...:", and the same shape in some
  twenty other languages, including attributions that the client wrapped over up to four
  lines, and Gmail's older "2013/7/20 Name <addr>" without a colon;
* Outlook's unquoted header block ("From:/Sent:/To:/Subject:", "Van:/Verzonden:/Aan:/
  Onderwerp:", ...), optionally after a line of underscores, and the "-----Original Message-----"
  and "---------- Forwarded message ---------" families of separators (RFC 3676 says nothing
  about these; they are de-facto conventions);
* ">" quoting (RFC 3676 section 4.5), also interleaved with answers (bottom posting);
* signatures: the "-- " delimiter (RFC 3676 section 4.3), mobile footers ("Sent from my
  iPhone", "Verzonden vanaf mijn iPhone", "Get Outlook for iOS") and contact details below a
  closing ("Met vriendelijke groet,") when that block is short.

Lines starting with "#" at the top are mediator commands and are always kept. The scanner is
line based (no backtracking regular expression runs over the whole body), so a 766 KB quote
is handled in milliseconds.
"""

from __future__ import annotations

import re

from mailgate import budget

# ">" (RFC 3676) and "|" (Gmail's and some webmails' older quoting)
_QUOTE_PREFIX = re.compile(r"^[ \t]*((?:[>|][ \t]?)+)")
_VERBS = (r"wrote|schreef|het volgende geschreven|schrieb|"
          r"a\s+écrit|escribió|escreveu|ha\s+scritto|skrev|napisał\(a\)|"
          r"napisała|napisał|napsal\(a\)|napsal|írta|kirjoitti|пишет|написал\(а\)|написала|"
          r"написал|yazdı|έγραψε|写道|작성|schreibt|escribi[oó]|scrive")
_ATTRIBUTION_VERB = re.compile(rf"(?:{_VERBS})(?:\b[^:：]{{0,160}})?[:：]\s*$|(?:{_VERBS})\s*$",
                               re.IGNORECASE)
_OPENER = re.compile(r"(?i)^(on|op|am|le|el|il|den|dnia|w dniu|em|no dia|dne|in data|"
                     r"\d{1,4}[./-]|\d{4}年|(mon|tue|wed|thu|fri|sat|sun|ma|di|wo|do|vr|za|zo)\b)")
# (starting only where a run of address characters starts: a long run without "@" would
# otherwise be rescanned from each of its characters)
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_DATEISH = re.compile(r"\d{1,2}[:.]\d{2}|(?:19|20)\d{2}")
# Older ProtonMail drew its separator with U+2010 hyphens; other clients use en/em dashes.
_DASHES = "-_=*\u2010-\u2015\u2212"
_SEPARATOR = re.compile(
    rf"(?i)^[ \t]*[{_DASHES}]{{2,}}[ \t]*("
    r"original message|oorspronkelijk bericht|originele? bericht|"
    r"ursprüngliche nachricht|urspr\.? nachricht|message d'origine|mensaje original|"
    r"messaggio originale|mensagem original|oprindelig meddelelse|ursprungligt meddelande|"
    r"wiadomość oryginalna|původní zpráva|исходное сообщение|alkuperäinen viesti|"
    r"eredeti üzenet|reply above this line|antwoord boven deze regel|oprindelig besked|"
    r"original besked|opprinnelig melding|originalnachricht|originalmeddelande|"
    r"original message|message original|oorspronkelijk|doorgestuurd bericht|"
    r"forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    rf"messaggio inoltrato|mensagem encaminhada)[ \t]*[{_DASHES}]*[ \t]*"
    # format=flowed decoding can join the next line, "Van: ..." or "From: ...", onto it
    r"(?:$|[*_]{0,2}[^\W\d][\w-]{0,20}[*_]{0,2}[ \t]*:)")
# Gmail's older attribution has no colon and no verb: "2013/7/20 Name <addr>"
_DATED_ADDRESS = re.compile(
    r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
    r"(?:[ \t]+\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]*GMT[+-]\d{1,2}:?\d{2})?)?"
    r"[ \t]+[^<>]{0,80}<[^<>\s]+@[^<>\s]+>[ \t]*:?$")
_FORWARD = re.compile(
    rf"(?i)^[ \t]*[{_DASHES}]{{2,}}[ \t]*(doorgestuurd bericht|forwarded message|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|"
    r"mensagem encaminhada)")
_RULE = re.compile(rf"^[ \t]*[{_DASHES}]{{2,}}[ \t]*$")
_PREAMBLE = re.compile(r"^[ \t]*\w[\w ]{0,25}[ \t]?:[ \t].{0,40}\d{1,2}[:.]\d{2}.{0,20}$")
_UNDERSCORES = re.compile(r"^[ \t]*(_{20,}|-{20,})[ \t]*$")
_FROM_FIELD = re.compile(
    r"(?i)^[ \t]*[*_]{0,2}(from|van|von|de|da|od|fra|från|lähettäjä|feladó|от|发件人|寄件者|"
    r"差出人|보낸\s?사람|kimden|afzender)[*_]{0,2}[ \t]*[:：]")
_OTHER_FIELD = re.compile(
    r"(?i)^[ \t]*[*_]{0,2}(sent|date|to|subject|cc|verzonden|datum|aan|onderwerp|gesendet|an|"
    r"betreff|envoyé|à|objet|enviado|para|asunto|fecha|inviato|a|oggetto|data|wysłano|do|temat|"
    r"sendt|til|emne|dato|skickat|till|ämne|odesláno|komu|předmět|отправлено|кому|тема|发送时间|"
    r"收件人|主题|日付|宛先|件名|送信日時|lähetetty|vastaanottaja|aihe|elküldve|címzett|tárgy|"
    r"reply-to|kopie|copie à)[*_]{0,2}[ \t]*[:：]")
_MOBILE = re.compile(
    r"(?i)^[ \t]*(sent from|sent via|sent with|verzonden (vanaf|met|vanuit|via|van)|"
    r"verstuurd (vanaf|met|vanuit|via|van)|gesendet (von|vom|mit)|envoyé (de|depuis)|"
    r"enviado (desde|de)|inviato da|get outlook for|outlook voor (ios|android) downloaden|"
    r"download outlook|skickat från|sendt fra|wysłano z|von meinem|envoyé à partir de|"
    r"envoyé de mon|lähetetty|odesláno z|sent from yahoo|sent from mail for windows)\b")
_DASH_SIG = re.compile(r"^--[ \t]?$")
_CLOSING = re.compile(
    r"(?i)^[ \t]*((met )?(vriendelijke|hartelijke|beste|lieve) groet(en)?|groet(en|jes)?|mvg|"
    r"m\.v\.g\.|gr\.|liefs|met groet|"
    r"(best|kind|warm|warmest|kindest) regards|regards|best wishes|all the best|best|"
    r"many thanks|thanks( again| a lot)?|thank you( very much)?|cheers|sincerely|"
    r"yours (sincerely|truly|faithfully)|take care|"
    r"mit freundlichen grüßen|(viele|beste|liebe) grüße|(freundliche )?grüße|gruß|mfg|lg|vg|"
    r"cordialement|bien à vous|salutations|bien cordialement|"
    r"saludos|atentamente|un saludo|cordiali saluti|saluti|"
    r"(med )?venlig hilsen|(med )?vennlig hilsen|hilsen|mvh|kh|vh|"
    r"(med )?vänliga hälsningar|hälsningar|bästa hälsningar|"
    r"pozdrawiam|z poważaniem|z powazaniem|s pozdravem|ystävällisin terveisin|terveisin)"
    r"[ \t,.!]*(?:[ \t,-]+[A-ZÀ-Ý][\w.'-]*(?:[ \t]+[\w.'-]+){0,2}[ \t.!]*)?$")
# "Groetjes, Sanne" / "Thanks, Alex": the name is on the closing's own line.
_CLOSING_WITH_NAME = re.compile(r"^[^,]+,[ \t]*[A-ZÀ-Ý]")
# Swedish "/John": a signature mark, not a closing ("-Name" stays: it is how some sign off)
_SIGNED_NAME = re.compile(r"^[ \t]*/[ \t]?\w[\w.-]*( \w[\w.-]*)?[ \t]*$")
_LIST_FOOTER = re.compile(r"(?i)^\S.* mailing list\s*$|/listinfo/|/mailman/|"
                          r"^to unsubscribe from this (group|list)")
_CONTACT = re.compile(r"(?i)@|https?://|www\.|\+?\d[\d ()./-]{7,}\d|"
                      r"^[ \t]*(tel|telefoon|phone|mob|mobiel|mobile|fax|t|m|e|w|kvk|iban)"
                      r"\b\.?\s*[:.]")
_DISCLAIMER = re.compile(
    r"(?i)disclaimer|vertrouwelijk|confidential|uitsluitend bestemd|intended (solely |only )?for|"
    r"intended recipient|niet de (beoogde )?geadresseerde|aansprakelijk|liability|privileged|"
    r"dit (e-?mail)?bericht (is|kan|en)|this (e-?mail|message) (and any|is|may|contains)|"
    r"gelieve (dit bericht|de afzender)|please notify the sender|kvk[- ]?(nummer|nr)")
_POSTSCRIPT = re.compile(r"(?i)^[ \t]*p\.?\s?s\.?\b")
# A name under a closing: one to four words, no digits, no address, no sentence.
_NAME = re.compile(r"^[ \t]*[^\W\d_][\w.'-]*(?:[ \t]+[\w.'-]+){0,3}[ \t]*$")


def _strip_quote(line: str) -> str:
    return _QUOTE_PREFIX.sub("", line)


def _is_quoted(line: str) -> bool:
    return _QUOTE_PREFIX.match(line) is not None


_FRAME = "-= \t\r\n\f\v\xa0"
_VERB_END = re.compile(rf"(?i)(?:{_VERBS})$")


def _ends_in_verb(text: str) -> bool:
    return bool(_VERB_END.search(text[-40:]))  # the longest verb is 23 characters


def _unframe(text: str) -> str:
    """Zoho writes "---- On ... wrote ----": drop the frame around an attribution."""
    return text.strip(_FRAME)


def _looks_like_attribution(text: str) -> bool:
    text = _unframe(text)
    if not text or len(text) > 400:
        return False
    if not text.endswith((":", "：")) and not _ends_in_verb(text):
        return False
    has_anchor = bool(_EMAIL.search(text) or _DATEISH.search(text) or _OPENER.match(text))
    # (the verb stands within 160 characters of the end: only that tail is searched)
    if has_anchor and _ATTRIBUTION_VERB.search(text.rstrip()[-200:]):
        return True
    # "2017-11-24 16:32 GMT+01:00 Name <a@b.c>:" and similar verb-less forms
    return bool(_EMAIL.search(text) and _DATEISH.search(text) and text.endswith((":", "：")))


def _attribution_at(lines: list[str], j: int) -> int | None:
    """If line j ends an attribution, the index of its first line (clients wrap long ones)."""
    if len(lines[j]) > 400:  # attributions are short; long lines would only cost time
        return None
    last = _unframe(_strip_quote(lines[j]))
    if _DATED_ADDRESS.match(last):
        return j
    if not last or not (last.endswith((":", "：")) or _ends_in_verb(last)):
        return None
    start = j if _looks_like_attribution(last) else None
    for back in (1, 2, 3):
        k = j - back
        first = _strip_quote(lines[k]).strip() if k >= 0 else ""
        if not first or len(first) > 400 or _is_quoted(lines[k]) != _is_quoted(lines[j]):
            break
        joined = " ".join(_strip_quote(x).strip() for x in lines[k:j + 1])
        if not _looks_like_attribution(joined):
            continue
        opener = bool(_OPENER.match(_unframe(first)))
        continues = not first.endswith((".", "!", "?")) and len(first) < 120 and (
            bool(_DATEISH.search(first)) or last.startswith("<") or last[:1].islower())
        if opener or continues or (start is None and len(first) < 100):
            start = k
    return start


def _outlook_block_at(lines: list[str], i: int) -> int | None:
    """If an Outlook-style header block starts at (or just after a separator at) line i."""
    line = lines[i]
    if _SEPARATOR.match(line):
        return i
    probe = i
    if _UNDERSCORES.match(line):
        probe = i + 1
        while probe < len(lines) and not lines[probe].strip() and probe < i + 3:
            probe += 1
    if probe >= len(lines) or not _FROM_FIELD.match(_strip_quote(lines[probe])):
        return None
    fields = 0
    for k in range(probe + 1, min(len(lines), probe + 8)):
        if _OTHER_FIELD.match(_strip_quote(lines[k])):
            fields += 1
    if fields < 1:
        return None
    # include what clients put just above the block: "====", "-------- Oprindelig besked
    # --------", a "Message du : <date>" line
    while i > 0 and (not lines[i - 1].strip() or _RULE.match(lines[i - 1])
                     or _SEPARATOR.match(lines[i - 1]) or _PREAMBLE.match(lines[i - 1])):
        i -= 1
    return i


def _cut_footer(lines: list[str]) -> list[str]:
    """Mailman's list footer ("____ / riak-users mailing list / ...listinfo...") at the end."""
    for i in range(max(0, len(lines) - 8), len(lines)):
        if _LIST_FOOTER.search(lines[i]):
            while i > 0 and (not lines[i - 1].strip() or _RULE.match(lines[i - 1])):
                i -= 1
            return lines[:i] if i > 0 else lines
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    """Drop the signature, keep the courtesy: "-- " or a mobile footer goes with all below it;
    below a closing ("Groetjes," / "Sanne") the name stays and the contact block, function
    and disclaimer go. Without a closing, a last paragraph of contact details goes too."""
    content = [i for i, x in enumerate(lines) if x.strip()]
    if not content:
        return lines
    for n, i in enumerate(content):
        budget.check()
        line = lines[i]
        after = len(content) - n - 1  # non-empty lines below (counted, not listed: linear)
        # (a mobile footer may be all there is: "Sent from my iPhone" above a quote)
        if (n and _DASH_SIG.match(line) and after <= 15) or (
                _MOBILE.match(line) and after <= 3 and _short_footer(line)):
            lines = lines[:i]
            content = [k for k in content if k < i]
            break
    if not content:
        return lines
    last = content[-1]
    if len(content) > 1 and _SIGNED_NAME.match(lines[last]) and not lines[last - 1].strip():
        return lines[:last]
    for n in range(len(content) - 1, 0, -1):
        i = content[n]
        if last - i > 25:
            break
        if _CLOSING.match(lines[i]):
            keep = i
            if n + 1 < len(content) and _NAME.match(lines[content[n + 1]]) \
                    and not _CLOSING_WITH_NAME.match(lines[i]):
                keep = content[n + 1]
            tail = [lines[k] for k in content if k > keep]
            if tail and _is_signature_block(tail):
                return lines[:keep + 1]
            break
    return _cut_contact_paragraph(lines)


def _is_signature_block(tail: list[str]) -> bool:
    """What follows a closing and a name: short lines (function, company, contact details) and
    disclaimers; not a P.S. or more of the letter."""
    if any(_POSTSCRIPT.match(x) for x in tail):
        return False
    short = all(len(x.strip()) <= 80 or _DISCLAIMER.search(x) for x in tail)
    contact = any(_CONTACT.search(x) or _DISCLAIMER.search(x) for x in tail)
    return short and (len(tail) <= 6 or (contact and len(tail) <= 25))


def _cut_contact_paragraph(lines: list[str]) -> list[str]:
    """A last paragraph of two to eight short lines, at least two of them contact details
    (phone, e-mail, web address): a signature without a closing above it."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and lines[start - 1].strip() and end - start < 9:
        start -= 1
    block = lines[start:end]
    if start == 0 or not 2 <= len(block) <= 8 or any(len(x.strip()) > 80 for x in block):
        return lines
    if sum(1 for x in block if _CONTACT.search(x)) >= 2:
        return lines[:start]
    return lines


REMOVED = "[…]"


def scrub(text: str, own_addresses: list[str], domain: str) -> str:
    """The relayed text never carries the author's own addresses or a personal reply address
    of ours (`case+token@domain`): a quote or signature that slipped through would hand the
    others a way to write as, or to, this party."""
    token = re.compile(rf"(?<![\w.-])[\w.-]*\+[\w-]+@{re.escape(domain)}\b", re.IGNORECASE)
    text = token.sub(REMOVED, text)
    for address in filter(None, own_addresses):
        text = re.sub(re.escape(address), REMOVED, text, flags=re.IGNORECASE)
    return text


def _short_footer(line: str) -> bool:
    """"Sent from my iPhone" is a footer; "Sent from my desk, which is easier" is a sentence."""
    bare = re.sub(r"<[^>]*>", "", line).strip()
    return len(bare) <= 60 and "," not in bare and not bare.endswith(("?", "!"))


def _merge_continuations(lines: list[str]) -> list[str]:
    """Gmail sometimes wraps an attribution so that its final ">:" lands on a line of its own,
    which would otherwise look like a quoted line."""
    out: list[str] = []
    for line in lines:
        if out and re.fullmatch(r"[ \t]*>[ \t]*[:：][ \t]*", line) and out[-1].strip():
            out[-1] = out[-1].rstrip() + line.strip()
        else:
            out.append(line)
    return out


def extract_reply(text: str, keep_signature: bool = False) -> str:
    """The new words of a reply, without quoted history and (unless ``keep_signature``, as
    for a mediator's own messages, which go out as written) the signature."""
    lines = _merge_continuations(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    commands = 0
    while commands < len(lines) and lines[commands].lstrip().startswith("#"):
        commands += 1

    # first header (attribution, Outlook block or separator) outside quoting
    first_header = None
    for i in range(commands, len(lines)):
        budget.check()
        if _is_quoted(lines[i]):
            continue
        block = _outlook_block_at(lines, i)
        if block is not None:
            first_header = (max(block, commands), "block")
            break
        start = _attribution_at(lines, i)
        if start is not None:
            first_header = (max(start, commands), "attribution")
            break

    before = lines[:first_header[0]] if first_header else lines
    new_words = [x for x in before if x.strip() and not _is_quoted(x)]
    top_posted = len(new_words) >= 2 or sum(len(x) for x in new_words) > 40
    if first_header and new_words and (top_posted or first_header[1] == "block") \
            and not (first_header[1] == "attribution"
                     and _answers_between_quotes(lines, first_header[0])):
        kept = [x for x in before if not _is_quoted(x)]
    else:
        kept = _interleaved(lines, commands)

    kept = _cut_footer(kept)
    if not keep_signature:
        kept = _cut_signature(kept)
    result = "\n".join(x.rstrip() for x in kept).strip("\n")
    # Nothing new (a reply of quoted history only): say so, never fall back to the whole body.
    return result.strip()


def _answers_between_quotes(lines: list[str], start: int) -> bool:
    """Below the attribution at `start`: a quote, then the author's own words, then quoted
    text again. That is an inline answer, whatever stands above the attribution."""
    seen_quote = answered = False
    for i in range(start + 1, len(lines)):
        budget.check()
        line = lines[i]
        if _is_quoted(line):
            if answered:
                return True
            seen_quote = True
        elif line.strip() and seen_quote:
            if _outlook_block_at(lines, i) is not None or _DASH_SIG.match(line):
                return False
            # right under a long quoted line it is that line's end, wrapped by a client
            # that did not quote the wrap
            wrapped = _is_quoted(lines[i - 1]) and len(lines[i - 1]) >= 60
            answered = answered or not wrapped
    return False


def _interleaved(lines: list[str], commands: int) -> list[str]:
    """Bottom-posted or inline answers: keep unquoted text, drop quotes and their attributions.

    A header block with nothing above it leaves nothing new (a reply that only quotes: what
    stands below was written before), unless it is announced as a forward ("---------- Forwarded
    message ---------", "-------- Doorgestuurd bericht --------"): then the text forwarded is
    what the party chose to share, and it is kept.
    """
    kept: list[str] = []
    dropped = False  # a quote was removed since the last line of text
    i = 0
    while i < len(lines):
        budget.check()
        line = lines[i]
        if _is_quoted(line):
            dropped = True
            i += 1
            continue
        if not line.strip() and dropped and kept and not kept[-1].strip():
            i += 1  # the blank lines around a removed quote collapse into one
            continue
        if line.strip():
            dropped = False
        if i >= commands and _outlook_block_at(lines, i) is not None:
            if any(x.strip() for x in kept) or not _FORWARD.match(line):
                break  # the history starts here
            i = _block_end(lines, i)  # a forward without comment: what it passes on is kept
            continue
        if i >= commands and line.strip():
            end = _attribution_end(lines, i)
            if end is not None:
                nxt = end + 1
                while nxt < len(lines) and not lines[nxt].strip():
                    nxt += 1
                if nxt >= len(lines) or _is_quoted(lines[nxt]):
                    i = nxt
                    continue
                break  # an attribution followed by unquoted history: the rest is old
        kept.append(line)
        i += 1
    return kept


def _block_end(lines: list[str], i: int) -> int:
    """The index just after a header block starting at i (it ends at the first blank line)."""
    k = i
    while k < len(lines) and (not lines[k].strip() or _RULE.match(lines[k])
                              or _SEPARATOR.match(lines[k])):
        k += 1
    while k < len(lines) and lines[k].strip():
        k += 1
    return k


def _attribution_end(lines: list[str], i: int) -> int | None:
    """If an attribution starts at line i, the index of its last line."""
    for j in range(i, min(len(lines), i + 3)):
        if _is_quoted(lines[j]):
            return None
        start = _attribution_at(lines, j)
        if start is not None and start <= i:
            return j
    return None
