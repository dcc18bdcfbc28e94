"""Matcher benchmark: verdicts per second against a generated licence registry, and name-match time
per query with the bigram index beside the naive linear rapidfuzz scan over all names.

    .venv/bin/python bench/match.py [--rows 1000000] [--listings 2000] [--queries 200] [--linear 10]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matcher  # noqa: E402
from matcher.records import LicenceRecord  # noqa: E402
from shian.models import Listing, Shop  # noqa: E402

REGIONS = ["新郑市", "郑州市", "郑州市二七区", "郑州市金水区", "郑州市中原区", "郑州市管城回族区", "开封市", "洛阳市",
           "新密市", "荥阳市", "登封市", "巩义市", "中牟县", "新郑市龙湖镇", "新郑市薛店镇", "河南省", ""]
TRADES = ["食品", "商贸", "粮油", "茶业", "副食", "土特产", "生物科技", "电子商务", "母婴用品", "乳业", "蜂业", "炒货",
          "健康产业", "百货", "酒业", "果蔬", "调味品", "烘焙"]
FORMS = ["有限公司", "有限责任公司", "商行", "店", "经营部", "商店"]
CHARS = ("福禄寿喜财瑞祥和美好味鑫禾丰收盛源康乐达惠民恒达嘉德顺博远颐年溱洧轩辕晨曦万家佳金穗天华夏云帆"
         "荣聚宝斋一品鲜枣香苑百谷旺益优汇悦享鸿运梨河宏兴隆昌泰安信诚明光辉永春秋冬月星海山川林森")
SCOPES = ["预包装食品（含冷藏冷冻食品）销售", "预包装食品（含冷藏冷冻食品）销售；保健食品销售",
          "预包装食品（不含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售"]
AS_OF = date(2026, 1, 15)


def generate(rows: int, seed: int = 7) -> list[LicenceRecord]:
    rnd = random.Random(seed)
    out = []
    for i in range(rows):
        name = (rnd.choice(REGIONS) + "".join(rnd.choice(CHARS) for _ in range(rnd.choice((2, 2, 3)))) +
                rnd.choice(TRADES) + rnd.choice(FORMS))
        out.append(LicenceRecord(licence_no=f"JY141{i:011d}", holder_name=name, business_type="食品销售经营者",
                                 scope=rnd.choice(SCOPES), valid_from=date(2023, 1, 1),
                                 valid_until=date(2028, 1, 1) if rnd.random() > 0.1 else date(2024, 1, 1),
                                 status="有效" if rnd.random() > 0.05 else "注销"))
    return out


def listings(records: list[LicenceRecord], n: int, seed: int = 11) -> list[Listing]:
    """Own licences, borrowed ones, forged numbers and none, in roughly crawled proportions."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        rec = rnd.choice(records)
        roll = rnd.random()
        operator, number = rec.holder_name, rec.licence_no
        if roll < 0.15:
            operator = rnd.choice(records).holder_name            # someone else's licence
        elif roll < 0.25:
            number = f"JY142{rnd.randrange(10**11):011d}"          # not in the registry
        elif roll < 0.30:
            number = ""                                            # none shown
        text = f"经营者：{operator}｜许可证编号：{number}" if number else "证照信息请联系客服"
        out.append(Listing(platform="bench", item_id=str(k), title="红枣 500g 袋装", text="净含量：500g",
                           shop=Shop(operator_name=operator, licence_text=text)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--listings", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--linear", type=int, default=10, help="queries for the (slow) linear baseline")
    args = ap.parse_args()

    t = time.perf_counter()
    records = generate(args.rows)
    print(f"generated {len(records):,} licences in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    registry = matcher.Registry(records)
    print(f"registry build (dict + name index over {len(registry.names):,} names): {time.perf_counter() - t:.1f}s")

    items = listings(records, args.listings)
    t, cpu = time.perf_counter(), time.process_time()
    verdicts: dict[str, int] = {}
    for item in items:
        lic, _ = matcher.check(item, [], "普通食品", registry, as_of=AS_OF)
        verdicts[lic.verdict] = verdicts.get(lic.verdict, 0) + 1
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    print(f"verdicts: {len(items)} listings in {elapsed:.2f}s wall = {len(items) / elapsed:,.0f} verdicts/s "
          f"({len(items) / cpu:,.0f}/s per CPU-second; with candidate search) {dict(sorted(verdicts.items()))}")

    rnd = random.Random(3)
    queries = [rnd.choice(records).holder_name for _ in range(args.queries)]
    queries = [q.replace(q[-3], "兴", 1) if i % 2 else q for i, q in enumerate(queries)]   # half are near misses
    # CPU time per query: the machine is shared, wall time would measure the neighbours.
    t = time.process_time()
    indexed = [registry.names.search(q) for q in queries]
    per_indexed = (time.process_time() - t) / len(queries)
    linear_q = queries[:args.linear]
    t = time.process_time()
    linear = [registry.names.search_linear(q) for q in linear_q]
    per_linear = (time.process_time() - t) / len(linear_q)
    same_top = sum(bool(a) and bool(b) and a[0][1] == b[0][1] for a, b in zip(indexed, linear))
    print(f"name match CPU time per query: bigram index {per_indexed * 1000:.2f} ms, "
          f"linear rapidfuzz scan {per_linear * 1000:.1f} ms -> {per_linear / per_indexed:,.0f}x faster; "
          f"best score equal on {same_top}/{len(linear_q)} baseline queries")


if __name__ == "__main__":
    main()
