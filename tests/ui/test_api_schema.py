"""Schemathesis against the app's own OpenAPI document: generated requests never cause a server error.

Every operation gets a bounded number of generated requests (valid and invalid ones), each sent once
as generated (mostly unknown ids) and once aimed at a stored item, so claim/decide/escalate run
their real paths with hostile bodies and query strings.
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from shian.users import Users
from tests.ui.data import make_item

EXAMPLES = 20


def test_generated_requests_never_cause_a_server_error(app, store, settings):
    items = [make_item(n) for n in range(1, 4)]
    store.upsert_many(items)
    store.refresh()
    stored = [it.id for it in items]
    auth = {"Authorization": "Bearer " + Users(settings.data_dir).issue_token("root")}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, "the document describes every API operation"
    statuses: set[int] = set()

    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=strategy)
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call_and_validate(headers=auth, checks=[not_a_server_error])
            statuses.add(response.status_code)
            if case.path_parameters and "item_id" in case.path_parameters:
                generated = str(case.path_parameters["item_id"])
                case.path_parameters["item_id"] = stored[len(generated) % len(stored)]
                response = case.call_and_validate(headers=auth, checks=[not_a_server_error])
                statuses.add(response.status_code)

        run()
    # the run reached real work, not only refusals
    assert 200 in statuses and 404 in statuses and 409 in statuses
