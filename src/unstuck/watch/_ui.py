"""The live diagnostics page: one static HTML document (``ui.html``), no external assets.

It holds no data itself. It asks once for the token (or reads it from
``#token=...``, which never reaches the server), keeps it in sessionStorage,
and polls the JSON with ``Authorization: Bearer``. Everything from the server
is inserted as text, never as HTML. The file is read once, at import.
"""

from __future__ import annotations

import json
from importlib.resources import files

_PAGE = files(__package__).joinpath("ui.html").read_text(encoding="utf-8")


def page(*, json_url: str, nonce: str) -> str:
    # json.dumps gives a JS string literal; "</" is escaped so it cannot end the script.
    literal = json.dumps(json_url).replace("</", "<\\/")
    return _PAGE.replace("__JSON_URL__", literal).replace("__NONCE__", nonce)
