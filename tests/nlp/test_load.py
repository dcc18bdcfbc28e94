"""nlp.load(): what every analysing process calls at start."""
from __future__ import annotations

import gc

import nlp


def test_load_builds_the_models_once_and_takes_them_out_of_garbage_collection(listing):
    nlp.load()
    frozen = gc.get_freeze_count()
    assert frozen > 0                   # the lists, spaCy and jieba no longer walked by every full collection
    later = [[] for _ in range(100)]    # objects made afterwards are collected as usual
    nlp.load()
    assert gc.get_freeze_count() == frozen and later
    assert [f.type for f in nlp.detect(listing("治疗糖尿病")).findings] == ["disease_claim"]
