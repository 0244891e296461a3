"""The files Mediate ships besides its code: mail and page templates, intake forms and the
example configuration, read with ``importlib.resources`` so that an installed Mediate finds them
wherever pip or pipx put it.

In the source tree the three names in this folder are links to the top-level ``templates/``,
``intake_forms/`` and ``config.example.toml``, where administrators and translators look for
them; building a wheel copies the files behind the links (``[tool.setuptools.package-data]``).
An administrator's own ``files.templates_dir`` / ``files.intake_forms_dir`` replace them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(name: str) -> Path:
    """A shipped file or folder as a real path (Jinja2's loader and ``tomllib`` want one).

    Wheels are installed unpacked, so the resource is a file on disk; a zipped install, which
    pip never makes, would need ``importlib.resources.as_file`` and is not supported."""
    return Path(str(files(__name__).joinpath(name)))


TEMPLATES = shipped("templates")
INTAKE_FORMS = shipped("intake_forms")
EXAMPLE_CONFIG = shipped("config.example.toml")
# DejaVu Sans (its licence beside it): every letter of Dutch, Turkish, Polish ... names in a PDF
FONT = shipped("fonts/DejaVuSans.ttf")
