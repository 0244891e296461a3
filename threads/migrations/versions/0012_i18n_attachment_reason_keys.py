"""a held-back file's reason stored as a key and its value ("type:.exe"), not an English sentence

Revision ID: i18n_attachment_reason_keys
Revises: cockpit_case_locale_and_split
Create Date: 2026-12-04 21:00:00

The reason is worded when it is read, in the reader's language, from the gettext catalog
(mailgate.attachments.REASONS). The English sentences stored before are read back here once,
by the patterns they were written with; a reason that fits none stays as it is (describe()
shows such a reason unchanged).
"""
import re
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'i18n_attachment_reason_keys'
down_revision: Union[str, Sequence[str], None] = 'cockpit_case_locale_and_split'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The sentences as the code wrote them until this revision; {0} is the value.
_SENTENCES = {
    "inline": "inline image (signature or logo)",
    "type": "files of type .{0} are not passed on",
    "file": "larger than {0}, the limit per file",
    "message": "together with the other files larger than {0}, the limit per message",
    "bidi": "the name hides its real type (right-to-left control characters)",
    "inside": "it contains a file of type .{0}, which is not passed on",
}
_DOTTED = {"type", "inside"}  # their value is an extension, stored with its dot


def _key(reason: str) -> str | None:
    for kind, sentence in _SENTENCES.items():
        pattern = "^" + re.escape(sentence).replace(r"\{0\}", "(.+)") + "$"
        match = re.match(pattern, reason)
        if match:
            value = match.group(1) if match.groups() else ""
            value = f".{value}" if kind in _DOTTED else value
            return f"{kind}:{value}" if value else kind
    return None


def _sentence(reason: str) -> str | None:
    kind, _, value = reason.partition(":")
    if kind not in _SENTENCES:
        return None
    return _SENTENCES[kind].format(value[1:] if kind in _DOTTED else value)


def _rewrite(convert) -> None:  # noqa: ANN001
    bind = op.get_bind()
    table = sa.table('messageattachment', sa.column('id', sa.Integer),
                     sa.column('reason', sa.String), sa.column('passed', sa.Boolean))
    rows = bind.execute(sa.select(table.c.id, table.c.reason)
                        .where(table.c.passed == sa.false())).all()
    for row_id, reason in rows:
        new = convert(reason or "")
        if new is not None and new != reason:
            bind.execute(table.update().where(table.c.id == row_id).values(reason=new))


def upgrade() -> None:
    """Upgrade schema."""
    _rewrite(_key)


def downgrade() -> None:
    """Downgrade schema."""
    _rewrite(_sentence)
