"""Turn an HTML mail body into readable plain text.

HTML-only mail (Gmail's mobile apps, Outlook on the web, Apple Mail with rich text) still has to
reach the other parties as text. Paragraphs and line breaks are kept, list items become "- " or
"1. " lines (a nested list indented by two spaces), a link keeps its address in brackets when
the words differ from it, and anything a client marks as quoted history (`<blockquote>`,
Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`/`appendonsend`, Yahoo's `yahoo_quoted`,
Apple's `AppleOriginalContents`) is rendered as "> " quoted lines so `reply_text` can drop it
like plain-text quoting.

The markup is read by a small tokenizer of our own rather than the standard library's
`html.parser`: that one rescans the rest of the input for every unfinished construct, so a
mail of "<a<a<a..." (200 KB: 276 s) or of unclosed end tags stalls the gateway. Here every
search for a closing ">" or "-->" is remembered, so the whole body is read in one pass; broken
markup never raises. Quote depth is capped when rendered, so a thousand unclosed
`<blockquote>`s cannot multiply the text either.
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

from mailgate import budget

_BLOCK = {"p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
          "address", "section", "article", "header", "footer", "center", "dl", "dt", "dd",
          "form", "fieldset", "figure", "main", "nav", "aside"}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "xml", "o:p"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
# Markers mail clients put on the element that holds quoted history.
_QUOTE_MARKERS = re.compile(
    r"gmail_quote|yahoo_quoted|divRplyFwdMsg|appendonsend|AppleOriginalContents|"
    r"moz-cite-prefix|OutlookMessageHeader|zmail_extra|protonmail_quote|ms-outlook-mobile-reference",
    re.IGNORECASE)
# Markers of the element that holds the sender's signature.
_SIGNATURE_MARKERS = re.compile(r"gmail_signature|moz-signature", re.IGNORECASE)
# Deeper quoting is drawn as this many levels: enough to read, and no way to make a line's
# prefix grow with the number of unclosed quotes.
MAX_QUOTE_DEPTH = 8
_TAG_NAME = re.compile(r"/?([A-Za-z][A-Za-z0-9:_-]*)")
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_RAW_TEXT = ("script", "style", "xml", "title", "textarea")


def _tokens(html: str, builder: _TextBuilder) -> None:
    """Call the builder's start/end/data handlers for the markup, in one pass over it.

    Each position of the next ">" (and "-->") is found once and reused for every "<" before
    it; when there is none left, the rest is text.
    """
    n, i = len(html), 0
    next_gt = -2  # unknown; -1: no ">" after the current position
    while i < n:
        budget.check()
        lt = html.find("<", i)
        if lt < 0:
            builder.handle_data(unescape(html[i:]))
            return
        if lt > i:
            builder.handle_data(unescape(html[i:lt]))
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        if next_gt != -1 and next_gt < lt:
            next_gt = html.find(">", lt)
        if next_gt < 0:
            builder.handle_data(unescape(html[lt:]))
            return
        name = _TAG_NAME.match(html, lt + 1, next_gt)
        if name is None:  # "<!DOCTYPE", "<?xml", "< 3": declarations and stray "<"
            if html[lt + 1:lt + 2] in ("!", "?"):
                i = next_gt + 1
            else:
                builder.handle_data("<")
                i = lt + 1
            continue
        tag = name.group(1).lower()
        i = next_gt + 1
        if html[lt + 1] == "/":
            builder.handle_endtag(tag)
            continue
        attrs = [(m.group(1).lower(), unescape((m.group(2) or "").strip("\"'")))
                 for m in _ATTR.finditer(html, name.end(), next_gt)]
        builder.handle_starttag(tag, attrs)
        if tag in _RAW_TEXT:  # no markup inside: skip to its end tag
            close = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(html, i)
            i = n if close is None else close.end()
            builder.handle_endtag(tag)


class _TextBuilder:
    def __init__(self) -> None:
        self.open_tags: Counter[str] = Counter()  # how many of each tag are on the stack
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []  # (tag, opened a quote level)
        self.lists: list[list[int]] = []  # [kind (0=ul, 1=ol), counter]
        self.bullet: str | None = None  # "- " or "1. " waiting for its list item's first words
        self.link: tuple[str, int] | None = None

    # -- output helpers -------------------------------------------------------------------
    def _flush(self, force_blank: bool = False) -> None:
        text = "".join(self.current)
        self.current = []
        if self.pre_depth == 0:
            text = re.sub(r"[ \t\r\n\f\xa0]+", " ", text).strip()
        prefix = "> " * min(self.quote_depth, MAX_QUOTE_DEPTH)
        if text:
            if self.bullet is not None:
                text, self.bullet = self.bullet + text, None
            for line in text.split("\n"):
                self.lines.append(prefix + line)
        elif force_blank and self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append(prefix.rstrip())

    def _newline(self) -> None:
        if self.current and "".join(self.current).strip():
            self._flush()
        else:
            self.current = []

    # -- parser callbacks -----------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "br":
            # "<div>\n<br>\n</div>" (Outlook on the web) is an empty line like "<div><br></div>"
            self._flush(force_blank=not "".join(self.current).strip())
            return
        if tag == "hr":
            self._newline()
            self.lines.append("> " * min(self.quote_depth, MAX_QUOTE_DEPTH) + "_" * 32)
            return
        if tag in _VOID:
            return
        marker = " ".join((attr.get("class", ""), attr.get("id", ""), attr.get("type", "")))
        if _SIGNATURE_MARKERS.search(marker):
            # drawn as RFC 3676's "-- " line, so reply_text drops the block as a signature
            self._newline()
            self.lines.append("> " * min(self.quote_depth, MAX_QUOTE_DEPTH) + "-- ")
        opens_quote = tag == "blockquote" or bool(_QUOTE_MARKERS.search(marker))
        if tag in _BLOCK or tag in ("blockquote", "li") or opens_quote:
            self._newline()
            nested_list = tag in ("ul", "ol") and bool(self.lists)
            if tag in ("p", "blockquote", "ul", "ol", "table", "h1", "h2", "h3") \
                    and not nested_list and self.bullet is None:
                self._flush(force_blank=True)
        if opens_quote:
            self.quote_depth += 1
        self.stack.append((tag, opens_quote))
        self.open_tags[tag] += 1
        if tag == "pre":
            self.pre_depth += 1
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0, 0])
        elif tag == "li":
            # kept aside, not in the text, so that a <div> or <p> around the item's words
            # (Outlook on the web, Apple Mail) does not put the bullet on a line of its own
            bullet = "- "
            if self.lists and self.lists[-1][0] == 1:
                self.lists[-1][1] += 1
                bullet = f"{self.lists[-1][1]}. "
            self.bullet = "  " * max(0, len(self.lists) - 1) + bullet
        elif tag == "a":
            self.link = (attr.get("href", ""), len(self.current))
        elif tag in ("td", "th") and self.current:
            self.current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth or tag in _VOID:
            return
        if not self.open_tags[tag]:  # (a count, not a scan of the stack: end tags are cheap)
            return
        while self.stack:
            open_tag, opened_quote = self.stack.pop()
            self.open_tags[open_tag] -= 1
            self._close(open_tag, opened_quote)
            if open_tag == tag:
                break

    def _close(self, tag: str, opened_quote: bool) -> None:
        if tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            words = "".join(self.current[start:]).strip()
            target = href[7:] if href.lower().startswith("mailto:") else href
            if href.lower().startswith(("http://", "https://", "mailto:")) and target.strip() \
                    and target.rstrip("/") not in words and words:
                self.current.append(f" ({target})")
        if tag in _BLOCK or tag in ("blockquote", "li") or opened_quote:
            self._newline()
            if tag == "li":
                self.bullet = None  # an empty item leaves no bullet behind
            nested_list = tag in ("ul", "ol") and len(self.lists) > 1
            if tag in ("p", "blockquote", "ul", "ol", "table") and not nested_list:
                self._flush(force_blank=True)
        if opened_quote:
            self.quote_depth = max(0, self.quote_depth - 1)
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(data)

    def result(self) -> str:
        self._flush()
        text = "\n".join(line.rstrip() for line in self.lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML body; quoted history comes out as "> " lines."""
    builder = _TextBuilder()
    _tokens(html, builder)
    return builder.result()
