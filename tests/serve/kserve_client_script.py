"""Talks to a running ``satlearn serve`` with KServe's own Python client (``kserve``).

Run by tests/serve/test_serve_kserve_client.py in a separate virtual
environment that has ``kserve`` (it would downgrade pandas and protobuf in
the project's), so this file imports nothing from satlearn. Usage::

    python kserve_client_script.py BASE_URL MODEL INPUT.npy

Prints one JSON object: server liveness and readiness, model readiness, the
model metadata (as validated by KServe's own V2 data model), and the output
of one JSON infer and one binary infer.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.rest.v2_datamodels import ModelMetadataResponse


async def main(base_url: str, model: str, input_path: str) -> dict:
    x = np.load(input_path)
    out: dict = {}
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
    try:
        out["server_live"] = await client.is_server_live(base_url)
        out["server_ready"] = await client.is_server_ready(base_url)
        out["model_ready"] = await client.is_model_ready(base_url, model)
        # The REST client has no metadata call; KServe's own data model checks the answer.
        async with httpx.AsyncClient() as plain:
            response = await plain.get(f"{base_url}/v2/models/{model}", timeout=60)
        response.raise_for_status()
        out["metadata"] = ModelMetadataResponse.model_validate(response.json()).model_dump()
        for binary in (False, True):
            tensor = InferInput(name="image", shape=list(x.shape), datatype="FP32")
            tensor.set_data_from_numpy(x, binary_data=binary)
            request = InferRequest(model_name=model, infer_inputs=[tensor], request_id="kserve-1")
            result = await client.infer(base_url, request, model_name=model)
            output = result.outputs[0]
            out["binary" if binary else "json"] = {
                "model_name": result.model_name,
                "id": result.id,
                "name": output.name,
                "datatype": output.datatype,
                "shape": list(output.shape),
                "data": output.as_numpy().ravel().tolist(),
            }
    finally:
        await client.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
