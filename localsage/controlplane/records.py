"""SageMaker resources the emulator keeps as records only, because moto has no API for them: lineage entities
(actions, artifacts, contexts, their associations) and inference components.

They are what the Lineage and InferenceComponent steps (and any client) create; Describe/List answer from them.
Nothing here is served: an inference component is recorded on its endpoint, and InvokeEndpoint naming it says
so (the endpoint serves its variant's model, `controlplane/endpoints.py`).

One JSON file per record under `<state>/runner/records/<kind>/`, so they survive restarts.
"""

from __future__ import annotations

import hashlib
import json
import time

from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import check_request, invalid, not_found, page
from localsage.facts.state_files import write_atomically

# Each lineage entity kind and its ARN's resource type (an artifact without a name is named by its source).
ENTITIES = {"Action": "action", "Artifact": "artifact", "Context": "context"}


def _folder(plane: Plane, kind: str):
    return plane.state_dir / "runner" / "records" / kind


def _save(plane: Plane, kind: str, key: str, document: dict) -> None:
    write_atomically(_folder(plane, kind) / f"{key}.json", json.dumps(document, indent=2))


def _load(plane: Plane, kind: str, key: str) -> dict | None:
    try:
        return json.loads((_folder(plane, kind) / f"{key}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _all(plane: Plane, kind: str) -> list[dict]:
    folder = _folder(plane, kind)
    found = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]
    return sorted(found, key=lambda document: document["CreationTime"], reverse=True)


def _key(arn: str) -> str:
    return hashlib.sha256(arn.encode()).hexdigest()[:32]


def create_entity(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        check_request(f"Create{kind}", request)
        name = request.get(f"{kind}Name") or hashlib.sha256(json.dumps(request["Source"]).encode()).hexdigest()[:32]
        arn = plane.arn(f"{ENTITIES[kind]}/{name.lower()}")
        if _load(plane, kind, _key(arn)):
            raise invalid(f"{kind} {name} already exists")
        now = time.time()
        document = {
            **{key: value for key, value in request.items() if key != "Tags"},
            f"{kind}Name": name,
            f"{kind}Arn": arn,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        _save(plane, kind, _key(arn), document)
        return {f"{kind}Arn": arn}

    return operation


def describe_entity(kind: str):
    def operation(plane: Plane, request: dict) -> dict:
        check_request(f"Describe{kind}", request)
        given = request.get(f"{kind}Arn") or request[f"{kind}Name"]
        if not given.startswith("arn:"):  # a name, or (as SageMaker allows) the entity's ARN in the name member
            given = plane.arn(f"{ENTITIES[kind]}/{given.lower()}")
        document = _load(plane, kind, _key(given))
        if document is None:
            raise not_found(f"{kind} {given} does not exist")
        return document

    return operation


def add_association(plane: Plane, request: dict) -> dict:
    check_request("AddAssociation", request)
    association = {
        "SourceArn": request["SourceArn"],
        "DestinationArn": request["DestinationArn"],
        "AssociationType": request.get("AssociationType", "AssociatedWith"),
        "CreationTime": time.time(),
    }
    _save(plane, "Association", _key(request["SourceArn"] + " " + request["DestinationArn"]), association)
    return {"SourceArn": request["SourceArn"], "DestinationArn": request["DestinationArn"]}


def list_associations(plane: Plane, request: dict) -> dict:
    found = [
        association
        for association in _all(plane, "Association")
        if all(
            association.get(key) == request[key]
            for key in ("SourceArn", "DestinationArn", "AssociationType")
            if key in request
        )  # fmt: skip
    ]
    return page(found, request, "AssociationSummaries")


def create_inference_component(plane: Plane, request: dict) -> dict:
    check_request("CreateInferenceComponent", request)
    name = request["InferenceComponentName"]
    if _load(plane, "InferenceComponent", name.lower()):
        raise invalid(f"Inference component {name} already exists")
    endpoint = plane.endpoints.find(request["EndpointName"])
    if endpoint is None:
        raise invalid(f"Endpoint {request['EndpointName']} does not exist: create the endpoint first")
    now = time.time()
    document = {
        **{key: value for key, value in request.items() if key != "Tags"},
        "InferenceComponentArn": plane.arn(f"inference-component/{name.lower()}"),
        "EndpointArn": plane.arn(f"endpoint/{endpoint.name.lower()}"),
        "VariantName": request.get("VariantName") or endpoint.variant or "AllTraffic",
        "InferenceComponentStatus": "InService",
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    _save(plane, "InferenceComponent", name.lower(), document)
    return {"InferenceComponentArn": document["InferenceComponentArn"]}


def describe_inference_component(plane: Plane, request: dict) -> dict:
    check_request("DescribeInferenceComponent", request)
    document = _load(plane, "InferenceComponent", request["InferenceComponentName"].lower())
    if document is None:
        raise invalid(f"Inference component {request['InferenceComponentName']} does not exist")
    return document


def list_inference_components(plane: Plane, request: dict) -> dict:
    found = [
        {
            key: document[key]
            for key in (
                "InferenceComponentName",
                "InferenceComponentArn",
                "EndpointName",
                "EndpointArn",
                "VariantName",
                "InferenceComponentStatus",
                "CreationTime",
                "LastModifiedTime",
            )
        }  # fmt: skip
        for document in _all(plane, "InferenceComponent")
        if request.get("EndpointNameEquals") in (None, document["EndpointName"])
    ]
    return page(found, request, "InferenceComponents")


def delete_inference_component(plane: Plane, request: dict) -> dict:
    describe_inference_component(plane, request)
    (_folder(plane, "InferenceComponent") / f"{request['InferenceComponentName'].lower()}.json").unlink()
    return {}


OPERATIONS = {
    **{f"Create{kind}": create_entity(kind) for kind in ENTITIES},
    **{f"Describe{kind}": describe_entity(kind) for kind in ENTITIES},
    "AddAssociation": add_association,
    "ListAssociations": list_associations,
    "CreateInferenceComponent": create_inference_component,
    "DescribeInferenceComponent": describe_inference_component,
    "ListInferenceComponents": list_inference_components,
    "DeleteInferenceComponent": delete_inference_component,
}
