"""The Chinese PDF of a package: 电子数据提取笔录 with 电子数据清单, rendered by WeasyPrint.

Everything shown comes from the package's own files, passed in as a context
dict built by package.py. Listing text is untrusted: the template escapes
every value (Jinja autoescape), and the URL fetcher serves only the
package's own images, so a hostile listing can neither inject markup nor
make the renderer fetch anything.
"""
from __future__ import annotations

from pathlib import Path

import jinja2
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
PACKAGE_URL = "https://package.invalid/"    # pseudo origin for the package's own files

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class _PackageFetcher(URLFetcher):
    def __init__(self, files: dict[str, tuple[bytes, str]]):
        super().__init__(allowed_protocols=("https",), allow_redirects=False)
        self.files = files

    def fetch(self, url, headers=None):
        path = url[len(PACKAGE_URL):] if url.startswith(PACKAGE_URL) else None
        if path not in self.files:
            raise ValueError(f"report may only show package files, not {url!r}")
        data, media_type = self.files[path]
        return URLFetcherResponse(url, body=data, headers={"Content-Type": media_type})


def highlight(text: str, spans: list[tuple[int, int]], context: int = 40) -> list[tuple[str, bool]]:
    """Pieces of text around the claim spans as (piece, is_claim), trimmed to some context."""
    if not spans:
        return [(text[: context * 2], False)]
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    start = max(0, spans[0][0] - context)
    end = min(len(text), spans[-1][1] + context)
    out, pos = [], start
    if start > 0:
        out.append(("…", False))
    for s, e in spans:
        if s < pos:
            s = pos
        if s > pos:
            out.append((text[pos:s], False))
        if e > s:
            out.append((text[s:e], True))
        pos = max(pos, e)
    if end > pos:
        out.append((text[pos:end], False))
    if end < len(text):
        out.append(("…", False))
    return out


def render_html(context: dict) -> str:
    return _env.get_template("report.html").render(**context, package_url=PACKAGE_URL)


def render_pdf(context: dict, images: dict[str, tuple[bytes, str]]) -> bytes:
    """PDF bytes; metadata dates come from context["created_iso"], so the same data gives the same PDF."""
    html = HTML(string=render_html(context), base_url=PACKAGE_URL, url_fetcher=_PackageFetcher(images))
    # a fixed identifier derived from the data keeps the PDF byte-stable across exports
    return html.write_pdf(pdf_identifier=context["pdf_identifier"].encode("ascii"))
