"""Block docs as a person reads them: reStructuredText (TensorFlow's op docs, our declarations) rendered
to HTML with docutils for the help panel, and a plain one-line form for tooltips."""

from __future__ import annotations

import html
import re
from functools import lru_cache

_SETTINGS = {"report_level": 5, "halt_level": 5, "warning_stream": False, "input_encoding": "unicode",
             "output_encoding": "unicode", "syntax_highlight": "none", "file_insertion_enabled": False,
             "raw_enabled": False, "doctitle_xform": False, "initial_header_level": 3}


def _fences_to_rest(text: str) -> str:
    """TensorFlow's op docs mix Markdown code fences (```) into reST: make them literal blocks."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            out.extend(["", "::", ""] if inside else [""])
            continue
        out.append("    " + line if inside else line)
    return "\n".join(out)


@lru_cache(maxsize=64)
def rest_html(text: str) -> str:
    """The HTML body of a reST text (``val`` becomes code, lists and paragraphs are kept); never raises.

    Raw HTML and file inclusion are off: a doc cannot inject markup or read files."""
    from docutils.core import publish_parts
    from docutils.writers import html4css1

    try:
        return str(publish_parts(source=_fences_to_rest(text), writer=html4css1.Writer(),
                                 settings_overrides=_SETTINGS)["body"])
    except Exception:  # noqa: BLE001 - a doc docutils cannot read is shown as plain text
        return "<p>" + html.escape(text).replace("\n\n", "</p><p>") + "</p>"


_ROLE = re.compile(r":[a-z]+:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")


def plain(text: str) -> str:
    """reST inline markup removed (``val`` -> val, :py:`x` -> x), for tooltips and one-line summaries."""
    text = _ROLE.sub(r"\1", text)
    return _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
