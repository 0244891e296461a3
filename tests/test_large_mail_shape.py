"""The shape that keeps a large mail's memory bounded (issue 16): received into one buffer,
not a list of lines; the copies of one relay sharing their file's encoded pieces; each copy
written to the relay piece by piece, dot-stuffed without copying a shared piece. Behaviour
only: which objects are shared, what arrives; never time or absolute memory."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.mime.text import MIMEText

from support import Sink

from mailgate.compose import _UTF8_QP, FileParts, copy_pieces, serialise
from mailgate.receive import TOO_LONG, TOO_MUCH, receive
from mailgate.settings import OutboundSettings
from mailgate.transports import Envelope, SmtpTransport, _stuffed


async def received(data: bytes, size_limit: int | None = None, line_limit: int = 1001,
                   reader_limit: int = 1001):
    reader = asyncio.StreamReader(limit=reader_limit)
    reader.feed_data(data)
    reader.feed_eof()
    return await receive(reader, size_limit, line_limit)


async def test_data_is_received_into_one_buffer_and_dot_unstuffed():
    got = await received(b"Subject: x\r\n\r\n..leading dot\r\nplain\r\n.\r\nNOOP\r\n")
    assert type(got.data) is bytearray  # one buffer, not lines joined at the end
    assert got.data == b"Subject: x\r\n\r\n.leading dot\r\nplain\r\n"
    assert not got.refusal


async def test_data_over_the_size_limit_is_refused_after_the_end_and_not_kept():
    got = await received(b"a" * 50 + b"\r\n" + b"b" * 50 + b"\r\n.\r\n", size_limit=80)
    assert (got.refusal, got.data) == (TOO_MUCH, bytearray())


async def test_a_line_longer_than_the_reader_takes_is_refused_and_its_dot_is_no_end():
    # the long line's last piece is ".\r\n": it ends the line, not the mail
    got = await received(b"x" * 40 + b".\r\nnext\r\n.\r\n", line_limit=30, reader_limit=30)
    assert (got.refusal, got.data) == (TOO_LONG, bytearray())


def three_copies() -> tuple[list[list[bytes]], bytes]:
    pdf = bytes(range(256)) * 8000  # 2 MB: more than one piece of base64
    parts = FileParts(lambda sha: pdf)
    files = [{"sha256": "a" * 64, "filename": "taxatie.pdf", "content_type": "application/pdf"}]
    copies = []
    for n in range(3):
        text = MIMEText(f"Copy {n}.\n.a line with a dot\n", "plain", _UTF8_QP)
        text["Message-ID"] = f"<copy{n}@mediation.example.org>"
        copies.append(copy_pieces(serialise(text), files, parts))
    return copies, pdf


def test_the_copies_of_one_relay_share_the_encoded_file_pieces():
    copies, pdf = three_copies()
    big = [[piece for piece in copy if len(piece) > 100_000] for copy in copies]
    assert len(big[0]) > 1  # the file is in pieces, not one joined part
    for other in big[1:]:
        assert len(other) == len(big[0])
        assert all(mine is theirs for mine, theirs in zip(big[0], other, strict=True))
    mail = email.message_from_bytes(b"".join(copies[0]), policy=email.policy.default)
    assert [p.get_content() for p in mail.iter_attachments()] == [pdf]


def test_dot_stuffing_copies_only_a_piece_that_needs_it():
    shared = b"QUJD\r\nREVG\r\n"
    pieces = _stuffed([b"Subject: x\r\n\r\n", b".starts a line\r\n", shared, b"a\r\n.b\r\n"])
    assert pieces[1] == b"..starts a line\r\n"
    assert pieces[2] is shared
    assert pieces[3] == b"a\r\n..b\r\n"
    assert _stuffed([b"no line end", b".not at a line start\r\n"])[1] == b".not at a line start\r\n"


async def test_a_copy_with_files_arrives_whole_when_written_piece_by_piece():
    copies, pdf = three_copies()
    sink = await Sink().start()
    transport = SmtpTransport(OutboundSettings(transport="smtp", host="127.0.0.1",
                                               port=sink.port, connections=2))
    try:
        envelopes = [Envelope(n, "x@mediation.test", f"p{n}@home.test",
                              build=lambda copy=copy: copy) for n, copy in enumerate(copies)]
        results = await transport.send(envelopes)
    finally:
        await transport.close()
        await sink.stop()
    assert all(result.ok for result in results.values())
    assert [d.raw for d in sorted(sink.delivered, key=lambda d: d.rcpt_to)] == \
        [b"".join(copy) for copy in copies]  # the relay unstuffed the dotted line again


def test_a_large_file_is_written_into_its_row_whole(database_url):
    """On SQLite through zeroblob and incremental blob I/O (threads.large_values), which
    leaves no copy bound to a cached statement; on PostgreSQL as a parameter."""
    import hashlib

    from sqlmodel import select

    from threads import db, large_values
    from threads.models import Blob

    engine = db.make_engine(database_url)
    db.upgrade(engine)
    data = bytes(range(256)) * 9000  # 2.3 MB, over LARGE_BYTES
    sha = hashlib.sha256(data).hexdigest()
    with db.session_scope(engine) as session:
        large = large_values.is_large(session, data)
        assert large == (engine.dialect.name == "sqlite")
        blob = Blob(sha256=sha, size=len(data),
                    data=large_values.placeholder(data) if large else data)
        session.add(blob)
        session.flush()
        if large:
            large_values.fill(session, "blob", "data",
                              large_values.rowid(session, "blob", "sha256", sha), data)
    with db.read_scope(engine) as session:
        assert session.exec(select(Blob.data).where(Blob.sha256 == sha)).one() == data
    engine.dispose()
