"""Text that comes from data (asset symbols, rationales, sources) shown as text: never as
markdown or HTML, whatever it contains. A symbol named `[claim](https://x)` or
`<img src=x onerror=...>` is printed as those characters."""

from __future__ import annotations

import html
import re

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:])")


def markdown_literal(text: object) -> str:
    """Backslash-escapes every character markdown (CommonMark, GitHub, Streamlit) could
    interpret, and flattens newlines, so the text renders as itself on one line."""
    flat = " ".join(str(text).split())
    return MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def html_literal(text: object) -> str:
    return html.escape(str(text), quote=True)
