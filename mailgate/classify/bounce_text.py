"""Reading non-standard bounces: the words MTAs use, in the human-readable part.

Used by the bounce stage when a bounce is not an RFC 3464 report and flufl.bounce found no
recipients. Permanence follows RFC 3463 (5.x.x permanent, 4.x.x transient) and the SMTP reply
codes of RFC 5321 section 4.2 (5yz permanent, 4yz transient), falling back to the phrases
Postfix, Exim, Sendmail, qmail and Exchange write.
"""

from __future__ import annotations

import re

_SUBJECT = re.compile(
    r"(?i)(undeliver|undelivered mail|returned mail|delivery status notification \((failure|delay)|"
    r"mail delivery failed|delivery failure|failure notice|delivery has failed|"
    r"could not be delivered|couldn't be delivered|non[- ]?remis|unzustellbar|onbestelbaar|"
    r"niet bezorgd|kan niet worden bezorgd|nicht zustellbar|delivery notification|"
    r"message not delivered|mail system error|returned to sender|delivery problem|"
    r"warning: could not send|delayed mail|delivery delayed|mail could not be delivered|"
    r"rejected:|message rejected|nondeliverable|non-deliverable|permanent error|"
    r"delivery report|notification d'état de remise|sorry, your message|bounce)")
_REPLY_PREFIX = re.compile(r"(?i)^\s*(re|aw|antw|sv|vs|fwd?|doorst|wg|tr)\s*:")

_PERMANENT = re.compile(
    r"(?i)\b5\.\d{1,3}\.\d{1,3}\b|(?<![\d.])55[0-4](?:[ -]|\b)|user unknown|unknown user|"
    r"no such (user|mailbox|recipient|address)|does not exist|doesn't exist|"
    r"mailbox unavailable|recipient (address )?rejected|address rejected|"
    r"unknown (recipient|address|local part)|invalid (recipient|mailbox|address)|"
    r"host not found|domain not found|no mx|name or service not known|account (has been )?"
    r"(disabled|suspended|closed|deactivated)|not our customer|permanent(ly)?|"
    r"unrouteable|unroutable|not found|user doesn't have|mailbox not found|"
    r"rejected|blocked|denied|refused")
_TEMPORARY = re.compile(
    r"(?i)\b4\.\d{1,3}\.\d{1,3}\b|(?<![\d.])4[25][0-2](?:[ -]|\b)|delayed|will (be )?retry|"
    r"still trying|temporar(y|ily)|try again later|deferred|quota|mailbox (is )?full|"
    r"over quota|insufficient (system )?storage|warning:|not yet been delivered|"
    r"has not been delivered yet|retry timeout")
_ORIGINAL_STARTS = re.compile(
    r"(?i)^(-+ ?(this is a copy of|original message|undelivered message|below this line|"
    r"the original message|a copy of the original)|"
    r"(received|return-path|message-id|x-[\w-]+|dkim-signature): |"
    r"-+ ?original message follows|original message follows|"
    r"------ ?(the )?headers? of|--- ?the header of the original message)")
_ADDRESS = re.compile(r"<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?")
_SERVICE_LOCAL = re.compile(r"(?i)^(mailer-daemon|postmaster|mail-daemon|noreply|no-reply|root|"
                            r"abuse|hostmaster|double-bounce)$")


def is_bounce_subject(subject: str) -> bool:
    """Whether the subject is one a mail server writes on a failure or delay notice."""
    return bool(subject) and not _REPLY_PREFIX.match(subject) and bool(_SUBJECT.search(subject))


def looks_permanent(text: str) -> bool | None:
    """True for a permanent failure, False for a temporary one, None if the text does not say.

    Only the notice itself is read (the quoted original stops the scan); a temporary marker
    wins over a permanent one because "mailbox full" notices often quote a 5xx-looking code.
    """
    head = _notice_part(text)
    temporary = _TEMPORARY.search(head)
    permanent = _PERMANENT.search(head)
    strict_permanent = re.search(r"\b5\.\d{1,3}\.\d{1,3}\b|(?<![\d.])55[0-4]\b", head)
    strict_temporary = re.search(r"\b4\.\d{1,3}\.\d{1,3}\b|(?<![\d.])4[25][0-2]\b", head)
    if strict_permanent and not strict_temporary:
        return True
    if strict_temporary and not strict_permanent:
        return False
    if temporary and not permanent:
        return False
    if permanent and not temporary:
        return True
    if permanent and temporary:
        return permanent.start() < temporary.start()
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
    found: list[str] = []
    for match in _ADDRESS.finditer(_notice_part(text)):
        addr = match.group(1).strip(".").lower()
        local = addr.partition("@")[0]
        if addr in exclude or addr in found or _SERVICE_LOCAL.match(local):
            continue
        found.append(addr)
    return found[:10]
