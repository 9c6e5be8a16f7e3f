"""One self-contained HTML page from sections of figures, tables and notes.

Every image is inlined as a ``data:image/png;base64,...`` URI, so ``report.html`` can be
mailed or opened from anywhere on its own. The page is written atomically: a reader (a
browser refreshing it during training) sees the old page or the new one, never half.
"""
import base64
import dataclasses
import html
import time

from keras_segen.training.io import write_text_atomic


@dataclasses.dataclass
class Image:
    """A PNG (bytes) with a caption."""

    png: bytes
    caption: str = ""
    min_width: int = 0  # px: a smaller picture is shown enlarged to this width


@dataclasses.dataclass
class Table:
    """Rows of cells under a header."""

    header: list
    rows: list
    caption: str = ""


@dataclasses.dataclass
class Section:
    """A titled part of the page: a note, then its images and tables in order."""

    title: str
    items: list = dataclasses.field(default_factory=list)
    note: str = ""


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.1em; } .meta { color: #666; margin-top: 0; }
section { border-top: 1px solid #ddd; margin-top: 1.5em; }
.items { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.9em; max-width: 900px; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.95em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child { text-align: left; }
.note { color: #444; }
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return "n/a" if value is None else html.escape(str(value))


def _item(item) -> str:
    if isinstance(item, Image):
        if not item.png:
            raise ValueError(f"image {item.caption!r} has no PNG bytes")
        alt = html.escape(item.caption or "figure")
        size = f' style="min-width:{int(item.min_width)}px"' if item.min_width else ""
        return (f'<figure><img src="{data_uri(item.png)}" alt="{alt}"{size}>'
                f"<figcaption>{html.escape(item.caption)}</figcaption></figure>")
    if isinstance(item, Table):
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in item.header)
        body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                       for row in item.rows)
        caption = f"<caption>{html.escape(item.caption)}</caption>" if item.caption else ""
        return f"<table>{caption}<tr>{head}</tr>{body}</table>"
    raise TypeError(f"a report item is an Image or a Table, got {type(item).__name__}")


def render_page(title, sections, *, subtitle="") -> str:
    """The HTML text of a page of ``sections``."""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="meta">{html.escape(subtitle)} · written '
             f'{time.strftime("%Y-%m-%d %H:%M:%S")}</p>']
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        parts.append('<div class="items">' + "".join(_item(i) for i in section.items)
                     + "</div></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_page(path, title, sections, *, subtitle=""):
    """Write the page atomically; returns ``path``."""
    write_text_atomic(path, render_page(title, sections, subtitle=subtitle))
    return path
