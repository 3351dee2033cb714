"""IAM SimulatePrincipalPolicy, which moto lacks: may a role do these actions on these resources?

The answer comes from the role's policies as moto holds them (those `./dev deploy --local` created from the CDK
stacks), judged by moto's policy evaluator against each resource ARN (`moto_app.decision`). The runner asks it
before each step, as the pipeline's role; the SageMaker SDK, the AWS CLI and any client may ask it too.

Simulated here: identity policies (inline and attached) of a role, with the context values the request gives
(the conditions `moto_app.decision` evaluates; README "Limits, plainly" says which).
Refused, with a line that says so: users and groups as the source, and the ResourcePolicy, PolicyInputList and
PermissionsBoundaryPolicyInputList inputs.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs
from xml.etree import ElementTree

from localsage.controlplane import moto_app
from localsage.controlplane.protocol import QUERY_NAMESPACE, ServiceError, query_error_response, xml_response

OPERATION = "SimulatePrincipalPolicy"
NAMESPACE = QUERY_NAMESPACE["iam"]
NOT_SIMULATED = ("ResourcePolicy", "PolicyInputList", "PermissionsBoundaryPolicyInputList", "CallerArn")


def is_simulation(environ: dict, body: bytes) -> bool:
    """An IAM query-protocol request (form-encoded POST) for SimulatePrincipalPolicy."""
    if environ.get("REQUEST_METHOD") != "POST" or b"Action=" + OPERATION.encode() not in body:
        return False
    return "/iam/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")


def answer(environ: dict, body: bytes, start_response) -> list[bytes]:
    """SimulatePrincipalPolicy's XML answer, or IAM's XML error."""
    try:
        document = _evaluation_results(parse_qs(body.decode(), keep_blank_values=True))
    except ServiceError as exc:
        return query_error_response(start_response, "iam", exc)
    return xml_response(start_response, 200, ElementTree.tostring(document, encoding="utf-8", xml_declaration=True))


def _members(form: dict[str, list[str]], prefix: str) -> list[str]:
    """`Prefix.member.1`, `Prefix.member.2` ... in order (the query protocol's lists)."""
    numbered = []
    for key, values in form.items():
        head, _, index = key.rpartition(".member.")
        if head == prefix and index.isdigit():
            numbered.append((int(index), values[0]))
    return [value for _, value in sorted(numbered)]


def _context(form: dict[str, list[str]]) -> dict[str, str]:
    context = {}
    entries = {key.split(".")[2] for key in form if key.startswith("ContextEntries.member.")}
    for entry in sorted(entries, key=int):
        prefix = f"ContextEntries.member.{entry}"
        name = form.get(f"{prefix}.ContextKeyName", [""])[0]
        values = _members(form, f"{prefix}.ContextKeyValues")
        if name and values:
            context[name] = values[0]
    return context


def _evaluation_results(form: dict[str, list[str]]) -> ElementTree.Element:
    for name in NOT_SIMULATED:
        if any(key == name or key.startswith(f"{name}.") for key in form):
            raise ServiceError("InvalidInput", f"the local emulator does not simulate {name}", 400)
    source = form.get("PolicySourceArn", [""])[0]
    actions = _members(form, "ActionNames")
    if not source or not actions:
        raise ServiceError("InvalidInput", "PolicySourceArn and ActionNames are required", 400)
    if ":role/" not in source:
        raise ServiceError("InvalidInput", f"{source}: the local emulator simulates roles' policies only", 400)
    policies = moto_app.role_policies(source)
    if policies is None:
        raise ServiceError("NoSuchEntity", f"The role with name {source.rsplit('/', 1)[-1]} cannot be found.", 404)
    resources = _members(form, "ResourceArns") or ["*"]
    context = _context(form)
    response = ElementTree.Element(f"{OPERATION}Response", xmlns=NAMESPACE)
    result = ElementTree.SubElement(response, f"{OPERATION}Result")
    ElementTree.SubElement(result, "IsTruncated").text = "false"
    evaluations = ElementTree.SubElement(result, "EvaluationResults")
    for action in actions:
        for resource in resources:
            member = ElementTree.SubElement(evaluations, "member")
            ElementTree.SubElement(member, "EvalActionName").text = action
            ElementTree.SubElement(member, "EvalResourceName").text = resource
            ElementTree.SubElement(member, "EvalDecision").text = moto_app.decision(policies, action, resource, context)
    metadata = ElementTree.SubElement(response, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = str(uuid.uuid4())
    return response
