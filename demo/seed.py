"""The demo dataset: shops, listings, live rooms and the registries, from a seed.

`generate(n, seed)` is deterministic: the same arguments give the same
dataset, byte for byte. The generator records the truth it used (claims with
their exact spans, the expected licence and health-food verdicts) so tests
can check the whole path end to end; labels follow /work/shared/eval/README.md.
"""
from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from demo import content as C

PLATFORMS = ("shop", "spa", "live")
LICENCE_LABELS = ("ok", "holder_mismatch", "expired", "not_in_registry", "malformed", "missing",
                  "obsolete_format")
LICENCE_HEADER = ["licence_no", "holder_name", "credit_code", "legal_rep", "address", "business_type",
                  "scope", "valid_from", "valid_until", "status", "issuer"]
HEALTH_HEADER = ["reg_no", "product_name", "registrant", "functions", "valid_until"]
NOMINAL_ROOM_S = 600.0   # room length used for the offsets in records(); sites scale by room_seconds


@dataclass
class DemoShop:
    id: str
    platform: str
    type: str                      # general, health, infant, farm
    name: str                      # store name on the platform
    operator_name: str             # declared legal operator
    licence_problem: str           # one of LICENCE_LABELS ("ok" when none)
    licence_mode: str              # text, image, none
    licence_text: str = ""         # shown as text (mode text)
    licence_image_text: str = ""   # drawn into the licence PNG (mode image)
    scope: str = ""                # scope of the licence it shows, "" when none applies

    @property
    def licence_display(self) -> str:
        """What the shop shows, whatever the medium."""
        return self.licence_text or self.licence_image_text


@dataclass
class DemoListing:
    id: str
    platform: str
    shop_id: str
    slug: str                      # shelf category slug
    category: str                  # shelf category shown on pages
    kind: str                      # legal category
    title: str
    text: str
    price: float
    health_food_reg: str = ""
    images: int = 1
    claims: list[dict] = field(default_factory=list)
    licence_expected: str = "ok"
    health_reg_expected: str = "n/a"
    hostile: bool = False


@dataclass
class DemoRoom:
    id: str
    title: str
    host: str
    shop_id: str
    shelf: list[str]
    script: list[dict]             # events: frac (0..1 of the room), type, speaker, text, item
    claims: list[dict] = field(default_factory=list)
    licence_expected: str = "ok"
    health_reg_expected: str = "n/a"
    kind: str = "普通食品"


class Dataset:
    def __init__(self, n: int, seed: int, shops, listings, rooms, licences, health_foods):
        self.n, self.seed = n, seed
        self.shops: list[DemoShop] = shops
        self.listings: list[DemoListing] = listings
        self.rooms: list[DemoRoom] = rooms
        self.licences: list[dict] = licences
        self.health_foods: list[dict] = health_foods
        self._listings = {x.id: x for x in listings}
        self._shops = {s.id: s for s in shops}
        self._rooms = {r.id: r for r in rooms}

    def listing(self, item_id: str) -> DemoListing | None:
        return self._listings.get(item_id)

    def shop(self, shop_id: str) -> DemoShop | None:
        return self._shops.get(shop_id)

    def room(self, room_id: str) -> DemoRoom | None:
        return self._rooms.get(room_id)

    def by_platform(self, platform: str) -> list[DemoListing]:
        return [x for x in self.listings if x.platform == platform]

    def expected(self, item_id: str | None = None):
        """Truth for one listing or room id, or a dict of all of them."""
        if item_id is None:
            out = {x.id: self._truth(x) for x in self.listings}
            out.update({r.id: self._truth(r) for r in self.rooms})
            return out
        obj = self._listings.get(item_id) or self._rooms.get(item_id)
        if obj is None:
            raise KeyError(item_id)
        return self._truth(obj)

    def _truth(self, obj) -> dict:
        platform = obj.platform if isinstance(obj, DemoListing) else "live"
        hostile = obj.hostile if isinstance(obj, DemoListing) else False
        return {"platform": platform, "violating": bool(obj.claims), "claims": [dict(c) for c in obj.claims],
                "licence_expected": obj.licence_expected, "health_reg_expected": obj.health_reg_expected,
                "kind": obj.kind, "hostile": hostile}

    def write_registry(self, directory) -> tuple[Path, Path]:
        """Write licences.csv and health_foods.csv in the eval CSV schema."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lic, hf = directory / "licences.csv", directory / "health_foods.csv"
        for path, header, rows in ((lic, LICENCE_HEADER, self.licences), (hf, HEALTH_HEADER, self.health_foods)):
            with path.open("w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=header)
                w.writeheader()
                w.writerows(rows)
        return lic, hf

    def records(self, platform: str | None = None) -> list[dict]:
        """Listings (and rooms) as flat records in the eval listing schema."""
        out = []
        for x in self.listings:
            if platform and x.platform != platform:
                continue
            shop = self._shops[x.shop_id]
            out.append({"id": x.id, "item_id": x.id, "platform": x.platform, "kind": "listing",
                        "title": x.title, "shop_name": shop.name, "operator_name": shop.operator_name,
                        "category": x.kind, "text": x.text, "licence_text": shop.licence_display,
                        "health_food_reg": x.health_food_reg, "price": x.price,
                        "labels": self._labels(x)})
        if platform in (None, "live"):
            for r in self.rooms:
                shop = self._shops[r.shop_id]
                out.append({"id": r.id, "item_id": r.id, "platform": "live", "kind": "live",
                            "title": r.title, "shop_name": shop.name, "operator_name": shop.operator_name,
                            "category": r.kind, "text": room_text(r, NOMINAL_ROOM_S),
                            "licence_text": shop.licence_display,
                            "health_food_reg": self._listings[r.shelf[0]].health_food_reg if r.shelf else "",
                            "labels": self._labels(r)})
        return out

    @staticmethod
    def _labels(obj) -> dict:
        return {"claims": [dict(c) for c in obj.claims], "licence_expected": obj.licence_expected,
                "health_reg_expected": obj.health_reg_expected}

    def write_feed(self, path, platform: str | None = None) -> Path:
        path = Path(path)
        with path.open("w", encoding="utf-8") as f:
            for rec in self.records(platform):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return path


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def event_line(ev: dict, offset_s: float) -> str:
    """How an event reads as text: captions "[00:01:05] 主播：…", the rest labelled."""
    if ev["type"] == "caption":
        return f"[{hms(offset_s)}] {ev['speaker']}：{ev['text']}"
    if ev["type"] == "pinned":
        return f"【置顶】{ev['text']}"
    if ev["type"] == "comment":
        return f"{ev['speaker']}：{ev['text']}"
    return f"【小黄车】{ev['text']}"


def room_text(room: DemoRoom, duration_s: float) -> str:
    return "\n".join(event_line(ev, ev["frac"] * duration_s) for ev in room.script)


# --- identifiers ------------------------------------------------------------

_CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"          # GB 32100 charset (no I O S V Z)


def credit_code(rng: random.Random, division: str, individual: bool) -> str:
    """An 18-char unified social credit code with valid GB 11714 and GB 32100 check digits."""
    body = "MA" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
    w = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(ch, 36) * wi for ch, wi in zip(body, w))
    c9 = 11 - total % 11
    org = body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    first17 = ("92" if individual else "91") + division + org
    total = sum(_CC_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return first17 + _CC_CHARS[(31 - total % 31) % 31]


def jy_number(county: str, serial: int, check: int, prefix: str = "JY1") -> str:
    return f"{prefix}4101{county}{serial:06d}{check}"


# --- generation -------------------------------------------------------------

def _quota(rng: random.Random, n: int, shares: dict[str, float], rest: str) -> list[str]:
    """n labels with every labelled share present at least once (when n allows), shuffled."""
    labels = []
    for label, share in shares.items():
        labels += [label] * max(1, round(share * n))
    labels = labels[:n]
    labels += [rest] * (n - len(labels))
    rng.shuffle(labels)
    return labels


class _Gen:
    def __init__(self, n: int, seed: int):
        if not 1 <= n <= 1_000_000:
            raise ValueError(f"listing count must be between 1 and 1,000,000, got {n}")
        self.n, self.seed = n, seed
        self.rng = random.Random(seed)
        self.operators: set[str] = set()
        self.licences: list[dict] = []
        self.licence_numbers: set[str] = set()
        self.serial = 0
        self.health_foods: list[dict] = []
        self.shops: list[DemoShop] = []
        self.listings: list[DemoListing] = []
        self.rooms: list[DemoRoom] = []

    # businesses

    def _name_word(self) -> str:
        r = self.rng
        return r.choice(C.NAME_HEAD) + r.choice(C.NAME_TAIL)

    def _operator(self, suffix: str | None = None) -> tuple[str, tuple]:
        r = self.rng
        for _ in range(1000):
            region = r.choice(C.REGIONS)
            word = self._name_word()
            name = region[0] + word + (suffix or r.choice(C.OPERATOR_SUFFIX))
            if name not in self.operators:
                self.operators.add(name)
                return name, region
        raise RuntimeError("ran out of operator names")

    def _person(self) -> str:
        return self.rng.choice(C.SURNAMES) + self.rng.choice(C.GIVEN)

    def _new_licence_no(self, county: str, prefix: str = "JY1") -> str:
        self.serial += 1
        serial = (self.serial * 7919 + 104729) % 900000 + 100000
        no = jy_number(county, serial, self.rng.randrange(10), prefix)
        self.licence_numbers.add(no)
        return no

    def _register(self, holder: str, region: tuple, scope: str, *, status="有效", expired=False,
                  number: str | None = None, filing=False) -> dict:
        r = self.rng
        year = r.randrange(2023, 2026)       # valid to 2028..2030: in date both today and on 2026-01-15
        start = f"{year}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"
        if expired:
            until = f"{r.choice([2024, 2025])}-{r.randrange(1, 6):02d}-{r.randrange(1, 29):02d}"
            start = f"{int(until[:4]) - 5}{until[4:]}"
        else:
            until = f"{year + 5}{start[4:]}"
        individual = holder.endswith(("店", "商行", "经营部"))
        row = {"licence_no": number or self._new_licence_no(region[1], "YB1" if filing else "JY1"),
               "holder_name": holder, "credit_code": credit_code(r, C.DIVISION[region[1]], individual),
               "legal_rep": self._person(),
               "address": f"{region[2]}{r.choice(C.STREETS)}{r.randrange(1, 300)}号",
               "business_type": "仅销售预包装食品" if filing else "食品销售经营者",
               "scope": scope, "valid_from": start, "valid_until": until, "status": status,
               "issuer": region[3]}
        self.licences.append(row)
        return row

    def _scope(self, shop_type: str) -> str:
        r = self.rng
        if shop_type == "health":
            return f"{C.SCOPE_COLD}；{C.SCOPE_HEALTH}"
        if shop_type == "infant":
            return f"{C.SCOPE_COLD}；{C.SCOPE_INFANT}" + (f"；{C.SCOPE_HEALTH}" if r.random() < 0.5 else "")
        if shop_type == "farm":
            return f"{C.SCOPE_PLAIN}；{C.SCOPE_BULK}"
        return r.choice([C.SCOPE_PLAIN, C.SCOPE_COLD]) + (f"；{C.SCOPE_HEALTH}" if r.random() < 0.2 else "")

    def _licence_text(self, operator: str, row: dict, number: str) -> str:
        r = self.rng
        style = r.randrange(5)
        if number.startswith("YB"):
            return f"经营者：{operator}　仅销售预包装食品备案编号：{number}"
        if style == 0:
            return f"证照信息｜经营者：{operator}｜许可证编号：{number}｜有效期至：{row['valid_until']}"
        if style == 1:
            return f"【资质公示】营业执照：{operator}　统一社会信用代码：{row['credit_code']}；食品经营许可证编号：{number}；发证机关：{row['issuer']}"
        if style == 2:   # spaced digits, as some shops type them
            return f"经营者名称：{operator}\n食品经营许可证：{number[:3]} {number[3:7]} {number[7:11]} {number[11:]}"
        if style == 3:   # full-width
            wide = number.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
            return f"经营者：{operator}　食品经营许可证：{wide}"
        return f"食品经营许可证：{number}（{operator}）"

    def _image_text(self, operator: str, row: dict, number: str) -> str:
        # few, short lines: each line costs an OCR recognition pass
        until = row.get("valid_until", "2028-12-31")
        return "\n".join([
            "食品经营许可证" if not number.startswith("YB") else "仅销售预包装食品备案信息",
            f"经营者名称：{operator}",
            f"许可证编号：{number}",
            f"有效期至：{until[:4]}年{until[5:7]}月{until[8:10]}日",
            f"发证机关：{row.get('issuer', '')}",
        ])

    def make_shop(self, idx: int, platform: str, problem: str, mode: str) -> DemoShop:
        r = self.rng
        shop_type = r.choices(["general", "health", "infant", "farm"], [55, 20, 8, 17])[0]
        suffix = {"health": r.choice(["健康科技有限公司", "食品有限公司", "商贸有限公司"]),
                  "infant": r.choice(["母婴用品店", "商贸有限公司"]),
                  "farm": r.choice(["农产品专业合作社", "土特产店", "食品商行"])}.get(shop_type)
        operator, region = self._operator(suffix)
        word = operator[len(region[0]):len(region[0]) + 2]
        name = word + r.choice(C.STORE_SUFFIX)
        scope = self._scope(shop_type)
        filing = shop_type in ("farm", "general") and problem == "ok" and r.random() < 0.2
        if filing:
            scope = C.SCOPE_COLD if shop_type == "general" else C.SCOPE_PLAIN
        shop = DemoShop(id=f"S{idx:05d}", platform=platform, type=shop_type, name=name,
                        operator_name=operator, licence_problem=problem, licence_mode=mode, scope=scope)
        row: dict = {}
        number = ""
        if problem == "ok":
            row = self._register(operator, region, scope, filing=filing)
            number = row["licence_no"]
        elif problem == "expired":
            status = r.choice(["注销", "有效", "过期"])
            row = self._register(operator, region, scope, status=status, expired=True)
            number = row["licence_no"]
        elif problem == "holder_mismatch":
            # the licence of a near-namesake business (a different legal entity)
            other = operator.replace("市", "", 1) if "市" in operator[:4] else operator[:-4] + "食品商行"
            if other == operator or other in self.operators:
                other, _ = self._operator()
            self.operators.add(other)
            row = self._register(other, region, scope)
            number = row["licence_no"]
            self._register(operator, region, scope, number=self._new_licence_no(region[1]),
                           status="注销", expired=True)
        elif problem == "not_in_registry":
            while True:
                number = jy_number(region[1], r.randrange(100000, 1000000), r.randrange(10))
                if number not in self.licence_numbers:
                    break
            row = {"valid_until": f"{r.randrange(2027, 2031)}-0{r.randrange(1, 10)}-1{r.randrange(0, 9)}",
                   "credit_code": credit_code(r, C.DIVISION[region[1]], False), "issuer": region[3],
                   "scope": scope}
        elif problem == "malformed":
            row = self._register(operator, region, scope)
            good = row["licence_no"]
            zeros = [i for i, ch in enumerate(good) if ch == "0" and i >= 2]
            # letter O only where it is typed text: OCR cannot tell O from 0 in an image
            if zeros and mode == "text" and r.random() < 0.7:
                pos = r.choice(zeros)
                number = good[:pos] + "O" + good[pos + 1:]   # letter O for zero
            else:
                number = good[:-2]                            # wrong length
        elif problem == "obsolete_format":
            number = r.choice([f"QS4101{r.randrange(10**7, 10**8)}{r.randrange(1000, 10000)}"[:14],
                               f"SP4101{region[1]}{r.randrange(10**9, 10**10)}"])
            row = {"valid_until": "2014-12-31", "issuer": region[3], "scope": "预包装食品",
                   "credit_code": ""}
        # missing: nothing to show
        if problem == "missing":
            shop.licence_mode = "none" if mode == "image" or r.random() < 0.4 else "text"
            if shop.licence_mode == "text":
                shop.licence_text = r.choice([
                    "证照信息请联系客服获取。",
                    f"营业执照：{operator}　统一社会信用代码：{credit_code(r, C.DIVISION[region[1]], False)}",
                    "本店已通过平台资质审核。"])
        elif problem == "obsolete_format":
            label = "全国工业产品生产许可证" if number.startswith("QS") else "食品流通许可证"
            text = f"经营者：{operator}　{label}：{number}"
            if mode == "image":
                shop.licence_image_text = f"{label}\n经营者名称：{operator}\n许可证编号：{number}\n有效期至：2014年12月31日"
            else:
                shop.licence_text = text
        elif mode == "image":
            shop.licence_image_text = self._image_text(operator, row, number)
        else:
            shop.licence_text = self._licence_text(operator, row, number)
        if problem in ("not_in_registry", "obsolete_format", "missing"):
            shop.scope = ""
        return shop

    # listings

    def _claims(self, slug: str, kind: str) -> list[tuple[str, str]]:
        r = self.rng
        k = r.choices([1, 2, 3], [60, 30, 10])[0]
        out = []
        types = C.CLAIM_TYPES_BY_CATEGORY[slug]
        for _ in range(k):
            ctype = r.choice(types)
            plain, variants = r.choice(C.CLAIMS[ctype])
            phrase = r.choice(variants) if r.random() < 0.3 else plain
            if any(p == phrase for p, _ in out):
                continue
            out.append((phrase, ctype))
        return out

    def _health_product(self) -> dict:
        """A registered health food (registry row), reused across listings."""
        r = self.rng
        pool = self.health_pool
        if pool and (r.random() < 0.6 or len(pool) >= self.health_cap):
            return r.choice(pool)
        product, form, functions, filing = r.choice(C.HEALTH_PRODUCTS)
        brand = r.choice(C.BRANDS)
        name = f"{brand}牌{product}"
        if filing:
            reg = f"食健备G{r.randrange(2019, 2025)}41{r.randrange(10**7, 10**8)}"[:17]
            until = "2099-12-31"
        else:
            if r.random() < 0.2:   # old-style approval numbers are still around
                reg = f"国食健字G{r.randrange(2005, 2016)}{r.randrange(0, 10000):04d}"
            else:
                reg = f"国食健注G{r.randrange(2016, 2024)}{r.randrange(0, 10000):04d}"
            # one in ten registrations has lapsed
            until_year = r.randrange(2022, 2025) if r.random() < 0.1 else r.randrange(2027, 2031)
            until = f"{until_year}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"
        if reg in self.health_regs:
            return r.choice(pool)
        registrant = f"河南{r.choice(C.NAME_HEAD)}{r.choice(C.NAME_TAIL)}生物科技有限公司"
        row = {"reg_no": reg, "product_name": name, "registrant": registrant,
               "functions": ";".join(functions), "valid_until": until}
        self.health_foods.append(row)
        self.health_regs.add(reg)
        pool.append(row)
        return row

    def make_listing(self, idx: int, shop: DemoShop, force_hostile: bool) -> DemoListing:
        r = self.rng
        slugs = C.SHOP_TYPES[shop.type]
        slug = r.choice(slugs)
        if shop.type == "general" and r.random() < 0.06:
            slug = r.choice(["health", "infant"])     # outside a general store's usual scope
        shelf, kind = C.CATEGORIES[slug]
        brand = r.choice(C.BRANDS)
        lines: list[str] = []
        reg = ""
        reg_state = "n/a"
        functions: list[str] = []
        if slug == "health":
            hp = self._health_product()
            name = hp["product_name"]
            functions = hp["functions"].split(";")
            title = f"{name} {r.choice(['60粒', '90片', '1瓶装', '2瓶装'])}"
            reg_state = r.choices(["ok", "missing", "unknown", "other"], [75, 10, 8, 7])[0]
            if reg_state == "ok":
                reg = hp["reg_no"]
                if hp["valid_until"] < "2026-01-15":
                    reg_state = "expired"
            elif reg_state == "unknown":
                reg = f"国食健注G{r.randrange(2015, 2024)}{r.randrange(0, 10000):04d}"
                if reg in self.health_regs:
                    reg, reg_state = hp["reg_no"], "ok"
            elif reg_state == "other":
                other = r.choice(self.health_pool)
                if other["product_name"] != name:
                    reg = other["reg_no"]
                else:
                    reg, reg_state = hp["reg_no"], "ok"
            pop, notpop = r.choice(C.HEALTH_POPULATION)
            lines += [f"保健功能：{'，'.join(functions)}", f"适宜人群：{pop}", f"不适宜人群：{notpop}",
                      f"规格：{r.choice(['0.5g/粒', '1.0g/片', '10g/袋'])}　保质期：24个月"]
        else:
            product, units, ingredients, food_type = r.choice(C.PRODUCTS[slug])
            unit = r.choice(units)
            tag = r.choice(["", " 新郑特产", " 包邮", " 年货礼盒", " 家庭装", " 产地直发"])
            title = f"{brand}{product} {unit}{tag}"
            lines += [f"规格参数｜品牌：{brand}｜产品类别：{food_type}｜净含量：{unit}｜保质期：{r.choice([6, 12, 18, 24])}个月",
                      f"配料表：{ingredients}"]
            if slug != "produce" and r.random() < 0.03:
                reg = f"国食健注G{r.randrange(2015, 2024)}{r.randrange(0, 10000):04d}"   # a number on a non-health food
        body = list(r.sample(C.MARKETING[slug], 2))
        negatives = C.HARD_NEGATIVES.get(slug, []) + r.sample(C.HARD_NEGATIVES["any"], 1)
        if slug in ("health", "infant"):
            body.append(C.HARD_NEGATIVES[slug][0])          # mandatory statements
            negatives = [n for n in negatives if n != C.HARD_NEGATIVES[slug][0]]
        if r.random() < 0.5 and negatives:
            body.append(r.choice(negatives))
        claims: list[dict] = []
        if r.random() < 0.4:
            for phrase, ctype in self._claims(slug, kind):
                frame = r.choice(C.CLAIM_FRAMES)
                body.insert(r.randrange(len(body) + 1), frame.format(c=phrase))
                claims.append({"span": phrase, "type": ctype})
        hostile = force_hostile or r.random() < 0.005
        if hostile:
            bad = r.choice(C.HOSTILE)
            if r.random() < 0.5:
                title = f"{title} {bad}"
            else:
                body.append(f"买家须知：{bad}")
        text = "\n".join(lines + body)
        price = round(r.uniform(9.9, 399.0), 1) if slug in ("health", "infant") else round(r.uniform(5.0, 129.0), 1)
        item = DemoListing(id=str(100000 + idx), platform=shop.platform, shop_id=shop.id, slug=slug,
                           category=shelf, kind=kind, title=title, text=text, price=price,
                           health_food_reg=reg, images=r.randrange(1, 4), claims=claims, hostile=hostile)
        item.licence_expected = licence_expected(shop, kind)
        item.health_reg_expected = health_reg_expected(kind, reg_state if slug == "health" else
                                                       ("unknown" if reg else "none"), claims)
        return item

    # live rooms

    def make_room(self, idx: int, shop: DemoShop, shelf: list[DemoListing]) -> DemoRoom:
        r = self.rng
        host = r.choice(C.HOSTS)
        main = shelf[0]
        title = f"{host}直播间｜{main.category}专场"
        script: list[dict] = []
        claims: list[dict] = []
        for k, item in enumerate(shelf):
            note = f"小黄车{k + 1}号 {item.title} 到手价¥{item.price:.2f}"
            script.append({"frac": 0.02 + 0.9 * k / len(shelf), "type": "shelf", "speaker": "",
                           "text": note, "item": item.id})
        script.append({"frac": 0.04, "type": "pinned", "speaker": "", "text": r.choice(C.PINNED), "item": None})
        for j in range(r.randrange(8, 14)):
            line = r.choice(C.HOST_LINES).format(n=r.randrange(1, len(shelf) + 1))
            script.append({"frac": r.uniform(0.0, 0.95), "type": "caption", "speaker": "主播", "text": line,
                           "item": None})
        for j in range(r.randrange(8, 16)):
            script.append({"frac": r.uniform(0.05, 0.97), "type": "comment", "speaker": r.choice(C.USERS),
                           "text": r.choice(C.VIEWER_LINES), "item": None})
        if r.random() < 0.6:
            # the host claims things about the product
            for phrase, ctype in self._claims(main.slug, main.kind):
                frame = r.choice(["这款{p}，{c}，家人们放心拍！", "咱家{p}{c}，好多老粉都回购了。",
                                  "有人问能不能吃，能吃，{c}。"])
                text = frame.format(p=main.category, c=phrase)
                script.append({"frac": r.uniform(0.1, 0.9), "type": "caption", "speaker": "主播",
                               "text": text, "item": None})
                claims.append({"span": phrase, "type": ctype})
            if r.random() < 0.3:
                phrase = r.choice(["无效退款", "无副作用"])
                script.append({"frac": 0.5, "type": "pinned", "speaker": "",
                               "text": f"主播承诺：{phrase}，放心下单。", "item": None})
                claims.append({"span": phrase, "type": "efficacy_guarantee"})
        script.sort(key=lambda ev: ev["frac"])
        for seq, ev in enumerate(script):
            ev["frac"] = round(ev["frac"], 4)
            ev["seq"] = seq
        room = DemoRoom(id=f"R{idx:04d}", title=title, host=host, shop_id=shop.id,
                        shelf=[x.id for x in shelf], script=script, claims=claims, kind=main.kind)
        room.licence_expected = licence_expected(shop, main.kind)
        state = "none"
        if main.health_food_reg:
            state = "ok" if main.health_reg_expected in ("ok", "functions_exceeded") else "unknown"
        elif main.kind == "保健食品":
            state = "missing"
        room.health_reg_expected = health_reg_expected(main.kind, state, claims)
        return room

    def run(self) -> Dataset:
        r = self.rng
        n = self.n
        counts = {"live": round(n * 0.15), "spa": round(n * 0.35)}
        counts["shop"] = n - counts["live"] - counts["spa"]
        n_rooms = max(1, math.ceil(counts["live"] / 4)) if counts["live"] else 0
        shop_counts = {"shop": max(4, counts["shop"] // 12) if counts["shop"] else 0,
                       "spa": max(4, counts["spa"] // 12) if counts["spa"] else 0,
                       "live": n_rooms}
        total_shops = sum(shop_counts.values())
        problems = _quota(r, total_shops, {"holder_mismatch": 0.05, "expired": 0.05, "not_in_registry": 0.04,
                                           "malformed": 0.04, "missing": 0.05, "obsolete_format": 0.04}, "ok")
        modes = _quota(r, total_shops, {"image": 0.3}, "text")
        self.health_pool: list[dict] = []
        self.health_regs: set[str] = set()
        self.health_cap = max(12, n // 100)
        idx = 0
        by_platform: dict[str, list[DemoShop]] = {}
        for platform in PLATFORMS:
            for _ in range(shop_counts[platform]):
                shop = self.make_shop(idx + 1, platform, problems[idx], modes[idx])
                self.shops.append(shop)
                by_platform.setdefault(platform, []).append(shop)
                idx += 1
        # a few hostile listings for sure on each platform, at seeded positions
        hostile_at = set()
        start = 0
        for platform in PLATFORMS:
            c = counts[platform]
            if c:
                hostile_at.update(start + i for i in r.sample(range(c), min(2, c)))
            start += c
        li = 0
        for platform in ("shop", "spa"):
            shops = by_platform.get(platform, [])
            for j in range(counts[platform]):
                shop = shops[j % len(shops)] if j < len(shops) else r.choice(shops)
                self.listings.append(self.make_listing(li, shop, li in hostile_at))
                li += 1
        live_shops = by_platform.get("live", [])
        remaining = counts["live"]
        for k, shop in enumerate(live_shops):
            size = remaining // (len(live_shops) - k)
            shelf = []
            for _ in range(size):
                shelf.append(self.make_listing(li, shop, li in hostile_at))
                li += 1
            remaining -= size
            self.listings.extend(shelf)
            if shelf:
                self.rooms.append(self.make_room(k + 1, shop, shelf))
        # registry noise: businesses that are on no platform
        for _ in range(max(3, total_shops // 3)):
            name, region = self._operator()
            self._register(name, region, self._scope("general"))
        self.licences.sort(key=lambda row: row["licence_no"])
        return Dataset(n, self.seed, self.shops, self.listings, self.rooms, self.licences, self.health_foods)


SCOPE_NEEDED = {"保健食品": "保健食品销售", "婴幼儿配方食品": "婴幼儿配方乳粉销售",
                "特殊医学用途配方食品": "特殊医学用途配方食品销售"}


def licence_expected(shop: DemoShop, kind: str) -> str:
    if shop.licence_problem != "ok":
        return shop.licence_problem
    if kind == "食用农产品":
        return "ok"
    need = SCOPE_NEEDED.get(kind, "预包装食品")
    return "ok" if need in shop.scope else "scope_mismatch"


def health_reg_expected(kind: str, reg_state: str, claims: list[dict]) -> str:
    """reg_state: ok (valid, own product), missing, unknown/other/expired (shown but not valid),
    none (nothing shown)."""
    types = {c["type"] for c in claims}
    if kind == "保健食品":
        if reg_state == "missing" or reg_state == "none":
            return "missing_for_health_claims"
        if reg_state in ("unknown", "other", "expired"):
            return "not_in_registry"
        return "functions_exceeded" if "unapproved_function" in types else "ok"
    if "health_function_on_ordinary_food" in types:
        return "missing_for_health_claims"
    if reg_state in ("unknown", "other"):
        return "not_in_registry"
    return "n/a"


def generate(n: int, seed: int = 0) -> Dataset:
    """A dataset of n listings (100..100,000 intended), deterministic for (n, seed)."""
    return _Gen(int(n), int(seed)).run()
