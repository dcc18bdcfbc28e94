"""Registry import: CSV and XLSX, English and Chinese headers, bad rows, idempotence, size, the CLI."""
from __future__ import annotations

import csv
import hashlib
import json

from click.testing import CliRunner
from openpyxl import Workbook

import matcher
from shian.cli import main
from tests.matcher.conftest import HEALTH_FOODS, HEALTH_HEADER, LICENCE_HEADER, LICENCES, write_csv


def test_bad_rows_are_reported_with_file_line_reason_and_the_rest_kept(store, tmp_path):
    rows = [LICENCES[0],
            ["JY1410184000001", "短号商行", "", "", "", "食品销售经营者", "预包装食品销售", "2023-01-01", "2028-01-01", "有效", ""],
            ["JY14101840000023", "", "", "", "", "食品销售经营者", "预包装食品销售", "2023-01-01", "2028-01-01", "有效", ""],
            ["JY14101840000024", "日期错商行", "", "", "", "食品销售经营者", "预包装食品销售", "2023-01-01", "明年", "有效", ""],
            LICENCES[1]]
    path = write_csv(tmp_path / "lic.csv", LICENCE_HEADER, rows)
    report = matcher.import_registry(store, licences=path, progress=False)
    bad = {(b.line, b.file) for b in report.bad_rows}
    assert bad == {(3, str(path)), (4, str(path)), (5, str(path))}
    reasons = " ".join(b.reason for b in report.bad_rows)
    assert "格式不正确" in reasons and "经营者名称为空" in reasons and "明年" in reasons
    assert report.files[0].imported == 2
    registry = matcher.Registry.load(store)
    assert set(registry.licences) == {"JY14101840000011", "JY14101840000022"}


def test_xlsx_with_chinese_official_headers_and_a_title_row(store, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["食品经营许可证信息导出（2026年1月）"])
    sheet.append(["许可证编号", "经营者名称", "社会信用代码", "法定代表人", "住所", "经营场所", "主体业态", "经营项目",
                  "有效期至", "发证机关", "状态"])
    sheet.append(["JY14101840000011", "新郑市甲乙食品商行", "91350100M000100Y43", "甲", "新郑市", "新郑市某路",
                  "食品销售经营者", "预包装食品销售；保健食品销售", "2028/1/1", "新郑市市场监督管理局", "有效"])
    sheet.append(["SC 1274 1018 4000 88", "河南寅卯生物科技有限公司", "", "寅", "", "", "食品生产者", "保健食品",
                  "2027年12月31日", "", "有效"])
    sheet.append(["JY99", "坏行", "", "", "", "", "", "", "2028-01-01", "", "有效"])
    lic_path = tmp_path / "许可证.xlsx"
    book.save(lic_path)
    book = Workbook()
    book.active.append(["注册号/备案号", "产品名称", "注册人", "保健功能", "有效期至"])
    book.active.append(["国食健注G20190001", "寅卯牌灵芝胶囊", "河南寅卯生物科技有限公司", "有助于增强免疫力；缓解体力疲劳", "2029-01-01"])
    hf_path = tmp_path / "保健食品.xlsx"
    book.save(hf_path)

    report = matcher.import_registry(store, licences=lic_path, health_foods=hf_path, progress=False)
    assert [(b.line, "格式不正确" in b.reason) for b in report.bad_rows] == [(5, True)]
    registry = matcher.Registry.load(store)
    rec = registry.licence("JY14101840000011")
    assert rec.holder_name == "新郑市甲乙食品商行" and rec.premises == "新郑市某路" and str(rec.valid_until) == "2028-01-01"
    assert str(registry.licence("SC12741018400088").valid_until) == "2027-12-31"
    assert registry.health_food("国食健注G20190001").functions == ("有助于增强免疫力", "缓解体力疲劳")


def test_file_without_the_required_columns_is_refused_and_nothing_changes(store, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    report = matcher.import_registry(store, licences=path, progress=False)
    assert report.failed and "表头" in report.files[0].error
    assert store.get_meta("registry") is None and list(store.registry("licence")) == []


def test_reimport_is_idempotent_and_recorded_in_meta(store, registry_files):
    lic, hf = registry_files
    first = matcher.import_registry(store, lic, hf, progress=False)
    registry = matcher.Registry.load(store)
    assert registry.reload_if_changed(store) is registry           # nothing new: no reload
    second = matcher.import_registry(store, lic, hf, progress=False)
    assert first.counts == second.counts == {"licence": len(LICENCES), "health_food": len(HEALTH_FOODS)}
    meta = store.get_meta("registry")
    assert meta["stamp"] == second.stamp
    assert meta["sources"]["licence"]["sha256"] == hashlib.sha256(lic.read_bytes()).hexdigest()
    assert meta["sources"]["licence"]["file"].endswith("licences.csv")
    reloaded = registry.reload_if_changed(store)
    assert reloaded is not registry and set(reloaded.licences) == set(registry.licences)


def test_gbk_encoded_csv_is_read(store, tmp_path):
    path = tmp_path / "gbk.csv"
    with open(path, "w", newline="", encoding="gb18030") as fh:
        csv.writer(fh).writerows([HEALTH_HEADER, HEALTH_FOODS[0]])
    report = matcher.import_registry(store, health_foods=path, progress=False)
    assert report.files[0].imported == 1
    assert matcher.Registry.load(store).health_food("国食健注G20190001").product_name == "寅卯牌灵芝胶囊"


def test_100k_row_registry_import(store, tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(LICENCE_HEADER)
        for i in range(100_000):
            writer.writerow([f"JY1410184{i:07d}", f"新郑市第{i}号食品商行", "", "", "", "食品销售经营者",
                             "预包装食品（含冷藏冷冻食品）销售", "2023-01-01", "2028-01-01", "有效", ""])
    report = matcher.import_registry(store, licences=path, progress=False)
    assert report.files[0].imported == 100_000 and not report.bad_rows
    assert report.counts["licence"] == 100_000
    registry = matcher.Registry.load(store)
    assert registry.licence("JY14101840099999").holder_name == "新郑市第99999号食品商行"
    assert registry.held_by("新郑市第4242号食品商行")[0].licence_no == "JY14101840004242"


def test_cli_import_and_status(tmp_path, registry_files):
    lic, hf = registry_files
    bad = write_csv(tmp_path / "bad.csv", LICENCE_HEADER, [LICENCES[0], ["JY1", "坏", "", "", "", "", "", "", "2028-01-01", "", ""]])
    runner = CliRunner()
    data = str(tmp_path / "cli-data")
    result = runner.invoke(main, ["--data-dir", data, "registry", "import", "--licences", str(bad),
                                  "--health-foods", str(hf), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"bad row {bad}:3:" in result.output
    result = runner.invoke(main, ["--data-dir", data, "registry", "status", "--json"])
    meta = json.loads(result.output)
    assert meta["counts"] == {"licence": 1, "health_food": len(HEALTH_FOODS)}
    assert meta["sources"]["health_food"]["sha256"] == hashlib.sha256(hf.read_bytes()).hexdigest()
    result = runner.invoke(main, ["--data-dir", data, "registry", "status"])
    assert "licence: 1 records" in result.output
    result = runner.invoke(main, ["--data-dir", data, "registry", "import", "--no-progress"])
    assert result.exit_code != 0
