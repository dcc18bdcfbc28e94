"""A small invented registry imported into the real SQLite store, and a listing factory."""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

import matcher
from shian.models import Finding, Listing, Shop
from shian.store import open_store

AS_OF = date(2026, 1, 15)

LICENCE_HEADER = ["licence_no", "holder_name", "credit_code", "legal_rep", "address", "business_type", "scope",
                  "valid_from", "valid_until", "status", "issuer"]
SALES = "食品销售经营者"
LICENCES = [
    ["JY14101840000011", "新郑市甲乙食品商行", "", "甲", "新郑市", SALES,
     "预包装食品（含冷藏冷冻食品）销售；保健食品销售", "2023-01-01", "2028-01-01", "有效", "新郑市市场监督管理局"],
    ["JY14101840000022", "新郑市甲乙食品有限公司", "", "乙", "新郑市", SALES,
     "预包装食品（含冷藏冷冻食品）销售", "2023-01-01", "2028-01-01", "有效", "新郑市市场监督管理局"],
    ["JY14101840000033", "新郑市丙丁商行", "", "丙", "新郑市", SALES,
     "预包装食品（含冷藏冷冻食品）销售", "2019-01-01", "2024-01-01", "有效", "新郑市市场监督管理局"],
    ["JY14101840000044", "新郑市戊己商行", "", "戊", "新郑市", SALES,
     "预包装食品（含冷藏冷冻食品）销售", "2023-01-01", "2028-01-01", "吊销", "新郑市市场监督管理局"],
    ["JY14101840000055", "新郑市庚辛商行", "", "庚", "新郑市", SALES,
     "预包装食品（不含冷藏冷冻食品）销售", "2023-01-01", "2028-01-01", "有效", "新郑市市场监督管理局"],
    ["JY24101840000066", "新郑市壬癸面馆", "", "壬", "新郑市", "餐饮服务经营者",
     "热食类食品制售；冷食类食品制售", "2023-01-01", "2028-01-01", "有效", "新郑市市场监督管理局"],
    ["YB14101840000077", "新郑市子丑茶叶店", "", "子", "新郑市", "食品销售经营者(仅销售预包装食品备案)",
     "仅销售预包装食品（不含冷藏冷冻食品）", "2024-01-01", "2099-12-31", "有效", "新郑市市场监督管理局"],
    ["SC12741018400088", "河南寅卯生物科技有限公司", "", "寅", "新郑市", "食品生产者",
     "保健食品：片剂", "2023-01-01", "2028-01-01", "有效", "郑州市市场监督管理局"],
    ["JY14101840000099", "郑州辰巳散货店", "", "辰", "郑州市", SALES,
     "预包装食品（含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售", "2023-01-01", "2028-01-01", "有效", "郑州市市场监督管理局"],
]
HEALTH_HEADER = ["reg_no", "product_name", "registrant", "functions", "valid_until"]
HEALTH_FOODS = [
    ["国食健注G20190001", "寅卯牌灵芝胶囊", "河南寅卯生物科技有限公司", "有助于增强免疫力", "2029-01-01"],
    ["国食健注G20150002", "寅卯牌鱼油软胶囊", "河南寅卯生物科技有限公司", "有助于维持血脂（胆固醇/甘油三酯）健康水平", "2020-01-01"],
    ["食健备G202141000003", "寅卯牌钙片", "河南寅卯生物科技有限公司", "补充钙", "2099-12-31"],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture
def registry_files(tmp_path):
    return (write_csv(tmp_path / "licences.csv", LICENCE_HEADER, LICENCES),
            write_csv(tmp_path / "health_foods.csv", HEALTH_HEADER, HEALTH_FOODS))


@pytest.fixture
def registry(store, registry_files):
    report = matcher.import_registry(store, *registry_files, progress=False)
    assert not report.bad_rows and not report.failed
    return matcher.Registry.load(store)


def listing(operator: str = "", licence_text: str = "", title: str = "商品", text: str = "", category: str = "",
            health_food_reg: str = "", ocr: dict | None = None, licence_images: list[str] | None = None) -> Listing:
    shop = Shop(name="测试店", operator_name=operator, licence_text=licence_text, licence_images=licence_images or [])
    return Listing(platform="shop", item_id=title + operator + licence_text, title=title, text=text, shop=shop,
                   category=category, health_food_reg=health_food_reg, ocr=ocr or {})


def finding(kind: str, text: str = "宣称") -> Finding:
    return Finding(type=kind, rule_id="test", start=0, end=len(text), text=text)
