"""100 listings with hostile content: markup, event handlers, javascript: URLs, huge fields, RTL and
zero-width characters, broken UTF-8 (replaced at decoding), bad finding offsets."""
from __future__ import annotations

from shian.models import Analysis, Finding, Listing, ReviewItem, Segment, Shop, Verdict

PWN = "window.__pwned=1;alert(1)"
PAYLOADS = [
    f"<script>{PWN}</script>",
    f'<img src=x onerror="{PWN}">',
    f'"><svg onload="{PWN}">',
    f"'><iframe src=javascript:{PWN}></iframe>",
    f"</textarea></mark></title><script>{PWN}</script>",
    f'<a href="javascript:{PWN}">点我</a>',
    "{{ 7*7 }}{% raw %}${7*7}",
    f"<style>body{{display:none}}</style><body onload={PWN}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={PWN}>",
    f'<div style="background:url(javascript:{PWN})">',
]
RTL = "\u202e降血糖\u202c 治\u200b疗\u200d糖\ufeff尿病 \u2066\u2067 \u061c"
BROKEN = b"\xe9\x99\x8d\xe8\xa1\x80\xff\xfe\xe7\xb3 \xc0\xaf \xed\xa0\x80".decode("utf-8", "replace")
MEGA = "降血糖" + ("很好喝" * 350_000)   # about 1 MB of text


def hostile_items(count: int = 100) -> list[ReviewItem]:
    out = []
    for n in range(count):
        p = PAYLOADS[n % len(PAYLOADS)]
        text = f"{p} 本品可以降血糖 {RTL} {BROKEN} {p}\x00"
        if n % 33 == 5:
            text = MEGA + p
        title = f"{p}{BROKEN}" if n % 2 else f"{RTL}{p}"
        url = f"javascript:{PWN}" if n % 3 == 0 else f"http://127.0.0.1/item/{n}?q={p}"
        listing = Listing(platform=p[:20] if n % 10 == 7 else "shop", kind="live" if n % 4 == 0 else "listing",
                          url=url, item_id=f"hostile-{n}", title=title, text=text,
                          shop=Shop(name=f"店{p}", operator_name=f"{RTL}{p}", licence_text=f"JY{p}", region=p[:30]),
                          ocr={f"img{p}": f"图片文字{p}"} if n % 5 == 0 else {},
                          segments=[Segment(offset_s=3.5, speaker=p, text=f"主播：{p}降血糖")] if n % 4 == 0 else [])
        at = text.index("降血糖")
        findings = [Finding(type="disease_claim", rule_id=f"rule{p}", list_version=p[:10], field="text", start=at,
                            end=at + 3, text="降血糖", severity="high", legal_basis=p),
                    Finding(type=p[:30], rule_id="r2", field="title", start=0, end=len(title), text=title,
                            severity="medium"),
                    # offsets that no longer fit the text must not break the page
                    Finding(type="absolute_term", rule_id="r3", field="text", start=10**7, end=10**7 + 5,
                            text=f"{p}不存在", severity="low")]
        licence = Verdict(kind="licence", verdict="holder_mismatch",
                          identifiers=[{"type": "JY", "value": f"JY{p}", "raw": p}],
                          record={"licence_no": p, "holder_name": f"{RTL}{p}", "status": p, "scope": p},
                          candidates=[{"holder_name": p, "licence_no": p, "score": p}], reasons=[p, RTL, BROKEN])
        analysis = Analysis(findings=findings, licence=licence, risk=float(n))
        out.append(ReviewItem.new(listing, analysis))
    return out
