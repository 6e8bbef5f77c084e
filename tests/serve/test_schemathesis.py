"""schemathesis against the server's own OpenAPI schema: no operation answers a 5xx.

Every operation of the schema is called on the running server with
schemathesis' requests, bounded to ``MAX_EXAMPLES`` per operation and kind:
schema-conforming ones (positive), schema-violating ones (negative), and
conforming ones aimed at the served models (``seg``, ``clf``, ``det``,
version ``1``), so that bodies reach the tensor and image decoders rather
than stopping at an unknown name. The one check is ``not_a_server_error``:
bad input gets a 4xx, never a 500. The server is this module's own (it is
told to unload models), over the bundles of the image tests.

The schema is read from the app in-process at collection (it does not
depend on the models), so each operation is its own test; the calls go to
the server over HTTP. (schemathesis' ``from_fixture`` does not run under
pytest 9, so the loop over examples is hypothesis' own ``@given``.)
"""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from test_images import export_models, run_server

from satlearn.serve import ServeSettings, create_app

pytestmark = pytest.mark.timeout(600)

MAX_EXAMPLES = 20
MODELS = {"v1": ["seg", "clf", "det"], "v2": ["clf", "seg"]}


def _schema():
    with tempfile.TemporaryDirectory() as empty:
        document = create_app(ServeSettings(models=empty)).openapi()
    return schemathesis.openapi.from_dict(document)


SCHEMA = _schema()
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    export_models(models)
    with run_server(models, tmp_path_factory.mktemp("serve") / "server.log") as url:
        yield url


def _strategies(operation):
    """(strategy, whether it may have nothing to generate) for each kind of request."""
    yield operation.as_strategy(GenerationMode.POSITIVE), False
    # An operation whose schema allows anything (no body, string path
    # parameters) has no schema-violating request: hypothesis finds none.
    yield operation.as_strategy(GenerationMode.NEGATIVE), True
    path = operation.path
    if "{name}" in path and "unload" not in path:
        for name in MODELS["v1" if path.startswith("/v1") else "v2"]:
            parameters = {"name": name}
            if "{version}" in path:
                parameters["version"] = "1"
            yield operation.as_strategy(GenerationMode.POSITIVE, path_parameters=parameters), False


def test_the_schema_has_every_protocol_and_image_operation():
    labels = set(OPERATIONS)
    for verb in ("classify", "segment", "detect", "predict"):
        assert f"POST /v1/models/{{name}}:{verb}" in labels
    assert "POST /v2/models/{name}/infer" in labels


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_operation_answers_a_server_error(label, base_url):
    for strategy, may_be_empty in _strategies(OPERATIONS[label]):

        @given(case=strategy)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=60)

        try:
            call()
        except Unsatisfiable:
            if not may_be_empty:
                raise
