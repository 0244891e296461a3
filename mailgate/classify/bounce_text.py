"""Reading non-standard bounces: the words MTAs use, in the human-readable part.

Used by the bounce stage when a bounce is not an RFC 3464 report and flufl.bounce found no
recipients. Permanence follows RFC 3463 (5.x.x permanent, 4.x.x transient) and the SMTP reply
codes of RFC 5321 section 4.2 (5yz permanent, 4yz transient), falling back to the phrases
Postfix, Exim, Sendmail, qmail and Exchange write.
"""

from __future__ import annotations

import re

from mailgate import budget

_SUBJECT = re.compile(
    r"(?i)(undeliver|undelivered mail|returned mail|delivery status notification \((failure|delay)|"
    r"mail delivery failed|delivery failure|failure notice|delivery has failed|"
    r"could not be delivered|couldn't be delivered|non[- ]?remis|unzustellbar|onbestelbaar|"
    r"niet bezorgd|kan niet worden bezorgd|nicht zustellbar|delivery notification|"
    r"message not delivered|mail system error|returned to sender|delivery problem|"
    r"warning: could not send|delayed mail|delivery delayed|mail could not be delivered|"
    r"rejected:|message rejected|nondeliverable|non-deliverable|permanent error|"
    r"delivery report|notification d'état de remise|sorry, your message|bounce|"
    r"error sending|error delivering|delivery error|mail error|failed delivery|"
    r"mail delivery warning|delivery warning|non-delivery|ndr\b|"
    r"échec de (la )?(remise|distribution)|non distribuable|impossible de remettre|"
    r"message non (remis|délivré|distribué)|niet afgeleverd|kan niet worden afgeleverd|"
    r"onbezorgbaar|zustellung fehlgeschlagen|no se pudo entregar|no entregado|"
    r"mancata consegna|impossibile recapitare|não entregue|ej levererat|ikke leveret|"
    r"メールエラー|配信エラー|未配達|не доставлено|недоставлен)")
_REPLY_PREFIX = re.compile(r"(?i)^\s*(re|aw|antw|sv|vs|fwd?|doorst|wg|tr)\s*:")

# Reasons that make an address dead whatever code the server chose (sisimai's "hard" reasons):
# a 450 "User unknown" still means the mailbox does not exist.
_HARD_REASON = re.compile(
    r"(?i)user unknown|unknown user|no such (user|mailbox|recipient|address)|"
    r"does(n't| not) exist|unknown (recipient|address|local part|mailbox)|"
    r"invalid (recipient|mailbox|address)|user not found|mailbox not found|"
    r"not listed in|no valid recipients|recipient not found|address not found|"
    r"account (has been )?(disabled|closed|deleted|removed|deactivated)|no longer (active|valid)|"
    r"user doesn't have|is not a valid|bad destination|non-existent|nonexistent|"
    r"could(n't| not) be found|"
    # the same in the languages Dutch, Belgian and European servers answer in
    r"(adres|e-mailadres|ontvanger|mailbox|postvak)[^.\n]{0,40}(niet gevonden|bestaat niet)|"
    r"onbekende? (gebruiker|ontvanger|adres)|adresse inconnue|destinataire inconnu|"
    r"utilisateur (inconnu|inexistant)|(empfänger|benutzer|postfach) unbekannt|"
    r"existiert nicht|usuario desconocido|utente sconosciuto|destinatario sconosciuto")
# A dead host or domain: permanent unless the server itself called it temporary (4.x.x), as
# DNS failures can be.
_HOST_UNKNOWN = re.compile(
    r"(?i)host not found|domain not found|host unknown|unknown host|no mx|nxdomain|"
    r"name or service not known|couldn't find any host|host [\w.-]+ not found|unrouteable|"
    r"unroutable|domain name not found")
_MAILBOX_FULL = re.compile(r"(?i)mailbox (is )?full|over quota|quota exceeded|exceeded (its|the) "
                           r"quota|insufficient (system )?storage")
# A notice that the message merely waited too long or will be retried: temporary, even under
# Exim's "This is a permanent error" boilerplate.
_EXPIRED = re.compile(
    r"(?i)retry time(out)? (not reached|exceeded)|in the queue too long|message expired|"
    r"delivery time expired|warning only|will (be )?retr(y|ied)|still (be )?trying|"
    r"has not yet been delivered|not been delivered yet|delayed|delay notification|"
    r"temporar(y|ily)|try again later|host not reachable|no route to host|connection timed out|"
    r"could not be delivered for more than|mailbox (is )?full|over quota|quota exceeded|"
    r"insufficient (system )?storage|deferred|failing for a long time|have been failing|"
    r"giving up|gave up")
_PERMANENT_WORDS = re.compile(
    r"(?i)rejected|blocked|denied|refused|permanent(ly)?|not accepted|policy|spam|"
    r"blacklist|blocklist|message too (large|big)|size limit|not permitted|prohibited")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.\d{1,3}\.\d{1,3}(?![\d.])")
_BASIC = re.compile(r"(?:^|(?<=[\s:(#\[=]))([245])[0-5]\d(?=[\s\-.,)\]]|$)", re.MULTILINE)
_ORIGINAL_STARTS = re.compile(
    r"(?i)^(original message:|(-+ ?)?(this is a copy of|original message|undelivered message|"
    r"below this line|"
    r"the original message|a copy of the original)|"
    r"(received|return-path|message-id|x-[\w-]+|dkim-signature): |"
    r"-+ ?original message follows|original message follows|"
    r"------ ?(the )?headers? of|--- ?the header of the original message)")
_ADDRESS = re.compile(r"<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?")
# Lines naming the original sender or ids, never the failed recipient.
_ID_LINE = re.compile(r"(?i)message-id|in-reply-to|references|\bid[: ]|queue|"
                      r"^\s*(mail from|from|sender|return-path|reply-to|envelope-from|cc)\s*:")
_SERVICE_LOCAL = re.compile(r"(?i)^(mailer-daemon|mail-daemon|noreply|no-reply|root|"
                            r"double-bounce|mail-delivery|maildelivery)$")


# What a delivery report says, in the languages Dutch and European mail servers write. A person
# may write one of these too, so a phrase counts only with an SMTP status code beside it or
# with another sign of machine-made mail.
_NDR_PHRASE = re.compile(
    r"(?i)could not be delivered|couldn't be delivered|was not delivered|delivery has failed|"
    r"delivery (to the following recipients?|failed|to these recipients)|"
    r"permanent fatal errors|undeliverable|unable to deliver|i'm afraid i wasn't able to deliver|"
    r"this is the mail system at|this is the qmail-send program|message delivery failed|"
    r"did not reach (some or all of )?the intended recipient|remote server returned|"
    r"diagnostic information for administrators|returned to sender|"
    r"has not yet been delivered|delivery (has been )?delayed|delivery is delayed|"
    r"kon niet (worden )?(bezorgd|afgeleverd)|is niet (bezorgd|afgeleverd)|onbestelbaar|"
    r"bezorging (is )?mislukt|de bezorging|niet worden bezorgd|"
    r"konnte nicht zugestellt werden|unzustellbar|nicht zugestellt|"
    r"n'a pas pu être (remis|distribué|délivré)|non remis|échec de (la )?remise|"
    r"impossible de (remettre|distribuer)|"
    r"no se (ha )?pudo entregar|no pudo ser entregado|"
    r"non è stato possibile (recapitare|consegnare)|impossibile recapitare|"
    r"não foi possível entregar|kunde inte levereras|kunne ikke leveres")
_STATUS = re.compile(r"(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])|"
                     r"(?:^|[\s:(#\[])[45][0-5]\d[ -](?:[45]\.\d|[a-z])", re.MULTILINE)
# A warning that delivery is still being tried, or a full mailbox: the address may work later.
_SOFT = re.compile(r"(?i)delivery warning|delayed|delay|will (be )?retr(y|ied)|still trying|"
                   r"has not yet been delivered|mailbox (is )?full|over quota|quota exceeded|"
                   r"vertraagd|nog niet (bezorgd|afgeleverd)|postvak (is )?vol|verzögert|"
                   r"retardée?|en retard")


def ndr_wording(text: str) -> tuple[bool, bool]:
    """(the notice speaks as a delivery report does, an SMTP status code stands in it); read
    from the notice only (its first 20,000 characters, before the returned original)."""
    head = _notice_part(text[:20000])
    return bool(_NDR_PHRASE.search(head)), bool(_STATUS.search(head))


def says_soft(subject: str, text: str) -> bool:
    """A delay warning or a full mailbox, by its subject or the notice's first lines."""
    return bool(_SOFT.search(subject or "")) or bool(
        _SOFT.search(_notice_part(text[:3000])[:1500]) and not _HARD_REASON.search(text[:3000]))


def is_bounce_subject(subject: str, forwarded: bool = False) -> bool:
    """Whether the subject is one a mail server writes on a failure or delay notice.

    With `forwarded`, a "Fwd:"/"Re:" prefix is allowed (a person passing a bounce on).
    """
    if not subject or (_REPLY_PREFIX.match(subject) and not forwarded):
        return False
    return bool(_SUBJECT.search(subject))


def is_permanent(status: str | None, action: str, diagnostic: str) -> bool:
    """Permanence of one RFC 3464 recipient: hard reasons, then the status class.

    A full mailbox (X.2.2) is never permanent: the address exists and will work again.
    """
    if _HARD_REASON.search(diagnostic):
        return True
    if (status or "")[1:].startswith(".2.2") or _MAILBOX_FULL.search(diagnostic):
        return False
    if status and status[0] in "45":
        return status[0] == "5" and action != "delayed"
    if _HOST_UNKNOWN.search(diagnostic):
        return True
    if action == "delayed":
        return False
    if status and status[0] in "45":
        return status[0] == "5"
    verdict = looks_permanent(diagnostic)
    return verdict is not False


def looks_permanent(text: str) -> bool | None:
    """True for a permanent failure, False for a temporary one, None if the text does not say.

    Only the notice itself is read (the quoted original stops the scan). A dead mailbox or host
    is permanent whatever the code; an expiry or delay notice is temporary; otherwise the
    RFC 3463 enhanced codes decide, then the RFC 5321 reply codes, then the wording.
    """
    head = _notice_part(text)
    if _HARD_REASON.search(head) or _HOST_UNKNOWN.search(head):
        return True
    if _EXPIRED.search(head):
        return False
    for pattern in (_ENHANCED, _BASIC):
        classes = {m.group(1) for m in pattern.finditer(head)} - {"2"}
        if classes == {"5"}:
            return True
        if classes == {"4"}:
            return False
    if _PERMANENT_WORDS.search(head):
        return True
    return None


def _notice_part(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if _ORIGINAL_STARTS.match(line.strip()) and len(lines) > 2:
            break
        lines.append(line)
    return "\n".join(lines)


def failed_addresses(text: str, exclude: set[str]) -> list[str]:
    """Addresses the notice names as failed, in order of appearance, without service senders."""
    found: dict[str, None] = {}  # (a dict: the membership test stays cheap)
    for line in _notice_part(text).splitlines():
        budget.check()
        line = line[:998]  # RFC 5322's line limit; longer ones would make the search quadratic
        if _ID_LINE.search(line):
            continue  # Message-IDs and queue ids look like addresses
        for match in _ADDRESS.finditer(line):
            addr = match.group(1).strip(".").lower()
            local = addr.partition("@")[0]
            if addr in exclude or addr in found or _SERVICE_LOCAL.match(local) \
                    or re.fullmatch(r"[\d.a-f-]{12,}", local):
                continue
            found[addr] = None
    if not found:  # the notice names no one: the failed recipient is in the returned headers
        for match in re.finditer(r"(?im)^[ \t]*to:[ \t]*(.+)$", text):
            found.update((a.lower(), None) for a in _ADDRESS.findall(match.group(1))
                         if a.lower() not in exclude)
            if len(found) >= 10:
                break
    return list(found)[:10]
