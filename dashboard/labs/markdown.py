"""A lab's Markdown as HTML for students' pages. Raw HTML is off: teachers
are not trusted with script on students' pages (markdown-it also refuses
javascript: and data: links). Code fences tagged `run` get a "Run" button
that types the block into the terminal (static/js/lab-page.js), `copy` a "Copy" button."""

from functools import cache
from html import escape

from markdown_it import MarkdownIt

ACTIONS = {"run": "Run", "copy": "Copy"}


def _fence(self, tokens, idx, options, env):
    token = tokens[idx]
    words = token.info.split()
    action = next((word for word in words if word in ACTIONS), None)
    code = escape(token.content)
    if action is None:
        return f"<pre><code>{code}</code></pre>\n"
    return (
        f'<div class="lab-code" data-{action}><pre><code>{code}</code></pre>'
        f'<button type="button" class="lab-code-{action}">{ACTIONS[action]}</button></div>\n'
    )


@cache
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.add_render_rule("fence", _fence)
    return md


def render_markdown(text: str) -> str:
    return _renderer().render(text or "")
