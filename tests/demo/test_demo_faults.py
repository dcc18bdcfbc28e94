"""Fault modes a crawler meets: slow answers, 429 + Retry-After, 500s, truncated bodies."""
from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
from demo_http import fetch

from demo.sites import parse_faults, start_site


def _ids(dataset, platform="shop", n=12):
    return [x.id for x in dataset.by_platform(platform)[:n]]


def test_429_with_retry_after_on_selected_items_then_success(dataset):
    with start_site("shop", dataset, faults={"429": {"every": 2, "retry_after": 3}}) as site:
        for item_id in _ids(dataset):
            status, headers, body = fetch(f"{site.url}/item/{item_id}")
            if int(item_id) % 2 == 0:
                assert status == 429 and headers["retry-after"] == "3"
                assert "请求过于频繁" in body.decode()
                assert fetch(f"{site.url}/item/{item_id}")[0] == 200      # the retry gets through
            else:
                assert status == 200


def test_500_for_the_first_n_requests_or_always(dataset):
    ids = _ids(dataset)
    hit = next(i for i in ids if int(i) % 3 == 0)
    with start_site("shop", dataset, faults={"500": {"every": 3, "times": 2}}) as site:
        assert [fetch(f"{site.url}/item/{hit}")[0] for _ in range(3)] == [500, 500, 200]
    with start_site("shop", dataset, faults="500:every=3,times=0") as site:
        assert [fetch(f"{site.url}/item/{hit}")[0] for _ in range(4)] == [500] * 4
        # other pages are untouched by default
        assert fetch(f"{site.url}/")[0] == 200


def test_truncated_body_is_shorter_than_content_length(dataset):
    hit = next(i for i in _ids(dataset) if int(i) % 2 == 0)
    with start_site("shop", dataset, faults={"truncate": {"every": 2}}) as site:
        split = urlsplit(site.url)
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        conn.request("GET", f"/item/{hit}")
        resp = conn.getresponse()
        declared = int(resp.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as err:
            resp.read()
        conn.close()
        assert len(err.value.partial) < declared
        status, headers, body = fetch(f"{site.url}/item/{hit}")
        assert status == 200 and int(headers["content-length"]) == len(body)


def test_slow_items_answer_late_and_others_at_once(dataset):
    ids = _ids(dataset)
    slow = next(i for i in ids if int(i) % 2 == 0)
    fast = next(i for i in ids if int(i) % 2 == 1)
    with start_site("shop", dataset, faults={"slow": {"every": 2, "delay": 20}}) as site:
        assert fetch(f"{site.url}/item/{fast}", timeout=5)[0] == 200
        with pytest.raises((socket.timeout, TimeoutError)):
            fetch(f"{site.url}/item/{slow}", timeout=1)


def test_faults_pick_the_same_items_whatever_the_request_order(dataset):
    ids = _ids(dataset, n=30)

    def hit_set(order):
        with start_site("shop", dataset, faults={"429": {"every": 4}}) as site:
            return {i for i in order if fetch(f"{site.url}/item/{i}")[0] == 429}

    assert hit_set(ids) == hit_set(list(reversed(ids))) == {i for i in ids if int(i) % 4 == 0}


def test_faults_reach_the_spa_api_and_chosen_paths(dataset):
    item = next(i for i in _ids(dataset, "spa") if int(i) % 2 == 0)
    with start_site("spa", dataset, faults={"500": {"every": 2}}) as site:
        assert fetch(f"{site.url}/api/items/{item}")[0] == 500
        status, _, body = fetch(f"{site.url}/api/items/{item}")
        assert status == 200 and json.loads(body)["id"] == item
    with start_site("shop", dataset, faults={"429": {"every": 1, "paths": "^/category/"}}) as site:
        assert fetch(f"{site.url}/category/honey")[0] == 429
        assert fetch(f"{site.url}/item/{_ids(dataset)[0]}")[0] == 200


def test_bad_fault_specs_are_refused_clearly():
    assert parse_faults("429:every=7,retry_after=1;500:every=11")["429"]["retry_after"] == 1
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults({"503": {}})
    with pytest.raises(ValueError, match="key=value"):
        parse_faults("429:every")
    with pytest.raises(ValueError, match="every >= 1"):
        parse_faults({"500": {"every": 0}})
