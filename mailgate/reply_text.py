"""Extract the new words of a reply: drop quoted history and signatures.

What real clients do, and what this module therefore recognises:

* an attribution line before the quote: Apple Mail/Gmail/Thunderbird "On <date>, <name> wrote:",
  Dutch "Op <date> schreef <name>:", German "Am ... schrieb ...:", and the same shape in the
  other languages mail-parser-reply knows (its per-language ``wrote_header`` patterns are used
  as well), including attributions that the client wrapped over two or three lines;
* Outlook's unquoted header block ("From:/Sent:/To:/Subject:", "Van:/Verzonden:/Aan:/
  Onderwerp:", ...), optionally after a line of underscores, and the "-----Original Message-----"
  family of separators (RFC 3676 says nothing about these; they are de-facto conventions);
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
from functools import lru_cache

from mailparser_reply.constants import MAIL_LANGUAGES

_QUOTE_PREFIX = re.compile(r"^[ \t]*((?:>[ \t]?)+)")
_VERBS = (r"wrote|schreef|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|skrev|napisał\(a\)|"
          r"napisała|napisał|napsal\(a\)|napsal|írta|kirjoitti|пишет|написал\(а\)|написала|"
          r"написал|yazdı|έγραψε|写道|작성|schreibt|escribi[oó]|scrive")
_ATTRIBUTION_VERB = re.compile(rf"(?:{_VERBS})(?:\b[^:：]{{0,160}})?[:：]\s*$|(?:{_VERBS})\s*$",
                               re.IGNORECASE)
_OPENER = re.compile(r"(?i)^(on|op|am|le|el|il|den|dnia|w dniu|em|no dia|dne|in data|"
                     r"\d{1,4}[./-]|\d{4}年|(mon|tue|wed|thu|fri|sat|sun|ma|di|wo|do|vr|za|zo)\b)")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_DATEISH = re.compile(r"\d{1,2}[:.]\d{2}|(?:19|20)\d{2}")
_SEPARATOR = re.compile(
    r"(?i)^[ \t]*[-_=*]{2,}[ \t]*(original message|oorspronkelijk bericht|originele? bericht|"
    r"ursprüngliche nachricht|urspr\.? nachricht|message d'origine|mensaje original|"
    r"messaggio originale|mensagem original|oprindelig meddelelse|ursprungligt meddelande|"
    r"wiadomość oryginalna|původní zpráva|исходное сообщение|alkuperäinen viesti|"
    r"eredeti üzenet|reply above this line|antwoord boven deze regel)[ \t]*[-_=*]*[ \t]*$")
_UNDERSCORES = re.compile(r"^[ \t]*(_{20,}|-{20,})[ \t]*$")
_FROM_FIELD = re.compile(
    r"(?i)^[ \t]*[*_]{0,2}(from|van|von|de|da|od|fra|från|lähettäjä|feladó|от|发件人|寄件者|"
    r"差出人|보낸\s?사람|kimden|afzender)[*_]{0,2}[ \t]*[:：]")
_OTHER_FIELD = re.compile(
    r"(?i)^[ \t]*[*_]{0,2}(sent|date|to|subject|cc|verzonden|datum|aan|onderwerp|gesendet|an|"
    r"betreff|envoyé|à|objet|enviado|para|asunto|fecha|inviato|a|oggetto|data|wysłano|do|temat|"
    r"sendt|til|emne|skickat|till|ämne|odesláno|komu|předmět|отправлено|кому|тема|发送时间|"
    r"收件人|主题|日付|宛先|件名|送信日時|lähetetty|vastaanottaja|aihe|elküldve|címzett|tárgy|"
    r"reply-to|kopie|copie à)[*_]{0,2}[ \t]*[:：]")
_MOBILE = re.compile(
    r"(?i)^[ \t]*(sent from|sent via|sent with|verzonden (vanaf|met|vanuit|via|van)|"
    r"verstuurd (vanaf|met|vanuit|via|van)|gesendet (von|vom|mit)|envoyé (de|depuis)|"
    r"enviado (desde|de)|inviato da|get outlook for|outlook voor (ios|android) downloaden|"
    r"download outlook|skickat från|sendt fra|wysłano z|von meinem|"
    r"sent from yahoo|sent from mail for windows)\b")
_DASH_SIG = re.compile(r"^--[ \t]?$")
_CLOSING = re.compile(
    r"(?i)^[ \t]*(met vriendelijke groet(en)?|vriendelijke groet(en)?|hartelijke groet(en)?|"
    r"groet(en|jes)?|mvg|m\.v\.g\.|best regards|kind regards|warm regards|regards|"
    r"best wishes|many thanks|cheers|mit freundlichen grüßen|viele grüße|cordialement)[ \t,.!]*$")
_CONTACT = re.compile(r"(?i)@|https?://|www\.|\+?\d[\d ()./-]{7,}\d|\b(tel|mob|fax|t|m|e)\s*[:.]")


def _strip_quote(line: str) -> str:
    return _QUOTE_PREFIX.sub("", line)


def _is_quoted(line: str) -> bool:
    return _QUOTE_PREFIX.match(line) is not None


@lru_cache(maxsize=1)
def _library_patterns() -> list[re.Pattern[str]]:
    """mail-parser-reply's per-language attribution ("wrote header") patterns, line anchored."""
    patterns = []
    for spec in MAIL_LANGUAGES.values():
        wrote = spec.get("wrote_header")
        if isinstance(wrote, str) and wrote:
            patterns.append(re.compile(wrote, re.IGNORECASE))
    return patterns


def _looks_like_attribution(text: str) -> bool:
    text = text.replace("\xa0", " ").strip()
    if not text or len(text) > 400 or not text.rstrip().endswith((":", "：")):
        if not re.search(r"(?i)(wrote|schreef|schrieb)\s*$", text):
            return False
    has_anchor = bool(_EMAIL.search(text) or _DATEISH.search(text) or _OPENER.match(text))
    if _ATTRIBUTION_VERB.search(text) and has_anchor:
        return True
    if _EMAIL.search(text) and _DATEISH.search(text) and text.endswith((":", "：")):
        return True  # "2017-11-24 16:32 GMT+01:00 Name <a@b.c>:" and similar verb-less forms
    return any(p.search(text) for p in _library_patterns())


def _attribution_at(lines: list[str], j: int) -> int | None:
    """If line j ends an attribution, the index of its first line."""
    last = _strip_quote(lines[j]).strip()
    if not last or not (last.endswith((":", "：")) or re.search(r"(?i)(wrote|schreef)$", last)):
        return None
    start = None
    if _looks_like_attribution(last):
        start = j
    for back in (1, 2):
        k = j - back
        if k < 0 or not _strip_quote(lines[k]).strip():
            break
        joined = " ".join(_strip_quote(x).strip() for x in lines[k:j + 1])
        first = _strip_quote(lines[k]).strip()
        if _OPENER.match(first) and _looks_like_attribution(joined):
            start = k
        elif start is None and _looks_like_attribution(joined) and len(first) < 100:
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
    return i if fields >= 1 else None


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i > 0 and (_DASH_SIG.match(line) or (_MOBILE.match(line) and len(line) < 90)):
            return lines[:i]
    for i in range(len(lines) - 1, max(-1, len(lines) - 12), -1):
        if i > 0 and _CLOSING.match(lines[i]):
            tail = [x for x in lines[i + 1:] if x.strip()]
            if len(tail) <= 8 and all(len(x) <= 80 for x in tail):
                keep = lines[:i + 1]
                if tail and not _CONTACT.search(tail[0]):
                    keep.append(tail[0])
                return keep
            break
    return lines


def extract_reply(text: str) -> str:
    """The new words of a reply, without quoted history and signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    commands = 0
    while commands < len(lines) and lines[commands].lstrip().startswith("#"):
        commands += 1

    # first header (attribution, Outlook block or separator) outside quoting
    first_header = None
    for i in range(commands, len(lines)):
        if _is_quoted(lines[i]):
            continue
        if _outlook_block_at(lines, i) is not None:
            first_header = (i, "block")
            break
        start = _attribution_at(lines, i)
        if start is not None:
            first_header = (max(start, commands), "attribution")
            break

    before = lines[:first_header[0]] if first_header else lines
    new_words = [x for x in before if x.strip() and not _is_quoted(x)]
    top_posted = len(new_words) >= 2 or sum(len(x) for x in new_words) > 40
    if first_header and (top_posted or first_header[1] == "block"):
        kept = [x for x in before if not _is_quoted(x)]
    else:
        kept = _interleaved(lines, commands)

    kept = _cut_signature(kept)
    result = "\n".join(x.rstrip() for x in kept)
    result = re.sub(r"\n{3,}", "\n\n", result).strip()
    if not result:
        return text.replace("\r\n", "\n").strip()
    return result


def _interleaved(lines: list[str], commands: int) -> list[str]:
    """Bottom-posted or inline answers: keep unquoted text, drop quotes and their attributions."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        if i >= commands and _outlook_block_at(lines, i) is not None:
            break
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


def _attribution_end(lines: list[str], i: int) -> int | None:
    """If an attribution starts at line i, the index of its last line."""
    for j in range(i, min(len(lines), i + 3)):
        if _is_quoted(lines[j]):
            return None
        start = _attribution_at(lines, j)
        if start is not None and start <= i:
            return j
    return None
