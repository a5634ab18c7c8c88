"""Keeping loopback fakes honest: check traffic against a vendor's published OpenAPI spec.

A fake server records what the real client sent and what it answered; a test then asserts the
spec finds no fault in either. Requests are checked field by field (JSON and multipart bodies),
responses against the declared response schema, both with the spec's own ``$ref``s.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml


@dataclass
class Exchange:
    """One request the client made and the fake's answer."""

    method: str
    path: str
    content_type: str
    body: Any  # a JSON object, or an array (bulk overwrites)
    status: int
    response: Any
    files: set[str] = field(default_factory=set)
    query: dict[str, str] = field(default_factory=dict)


class OpenApiSpec:
    def __init__(self, document: dict[str, Any], base_path: str = "") -> None:
        self.document = document
        self._base_path = base_path
        # Vendor specs write oneOf where the shapes overlap (a verbose transcription also
        # matches the plain one, which allows extra keys), so strict oneOf would reject every
        # valid answer; "one of these shapes" is anyOf.
        self._components = _normalise(document.get("components", {}))
        self._routes = [(_route_pattern(path), path) for path in document["paths"]]

    def refresh(self) -> None:
        """Re-read the components after a deliberate, documented change to the document."""
        self._components = _normalise(self.document.get("components", {}))

    @classmethod
    @functools.cache
    def load(cls, path: Path, base_path: str = "") -> OpenApiSpec:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        text = path.read_text(encoding="utf-8")
        document = yaml.load(text, Loader=loader)
        return cls(document, base_path)

    def operation(self, method: str, path: str) -> dict[str, Any]:
        relative = path.removeprefix(self._base_path) or "/"
        for pattern, template in self._routes:
            if pattern.fullmatch(relative):
                operations = self.document["paths"][template]
                if method.lower() in operations:
                    return dict(operations[method.lower()])
                raise AssertionError(f"{method} is not an operation of {template}")
        raise AssertionError(f"{method} {path} is not in the spec")

    def problems(self, exchange: Exchange) -> list[str]:
        """Every way this exchange departs from the spec; empty when it conforms."""
        operation = self.operation(exchange.method, exchange.path)
        found = self._query_problems(operation, exchange)
        found += self._request_problems(operation, exchange)
        found += self._response_problems(operation, exchange)
        return [f"{exchange.method} {exchange.path}: {problem}" for problem in found]

    def _query_problems(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        declared = {
            parameter["name"]: parameter
            for parameter in map(self._resolve, operation.get("parameters", []))
            if parameter.get("in") == "query"
        }
        problems = [f"unknown query parameter '{name}'" for name in exchange.query
                    if name not in declared]  # fmt: skip
        for name, value in exchange.query.items():
            schema = declared.get(name, {}).get("schema", {})
            if schema.get("type") == "integer":
                if not value.lstrip("-").isdigit():
                    problems.append(f"query parameter '{name}' is not an integer")
                    continue
                problems += self._schema_problems(schema, int(value), f"query '{name}'")
        return problems

    def _request_problems(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        body = operation.get("requestBody")
        if body is None:
            return [] if not exchange.body else ["the spec declares no request body"]
        media = exchange.content_type.split(";")[0].strip()
        content = body.get("content", {})
        if media not in content:
            return [f"request content type {media} is not one of {sorted(content)}"]
        schema = self._resolve(content[media]["schema"])
        if media == "multipart/form-data":
            return self._form_problems(schema, exchange)
        return self._schema_problems(content[media]["schema"], exchange.body, "request")

    def _form_problems(self, schema: dict[str, Any], exchange: Exchange) -> list[str]:
        parts = [self._resolve(part) for part in schema.get("allOf", [])] or [schema]
        properties = {name: value for part in parts
                      for name, value in part.get("properties", {}).items()}  # fmt: skip
        schema = {"required": [name for part in parts for name in part.get("required", [])]}
        sent = set(exchange.body) | exchange.files
        required = schema.get("required", [])
        problems = [f"missing required field '{name}'" for name in required if name not in sent]
        problems += [f"unknown field '{name}'" for name in sent if name not in properties]
        for name, value in exchange.body.items():
            if name in properties:
                problems += self._schema_problems(properties[name], value, f"field '{name}'")
        return problems

    def _response_problems(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        responses = operation.get("responses", {})
        status = str(exchange.status)
        declared = (
            responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
        )
        if declared is None:
            return [f"status {exchange.status} is not a declared response"]
        content = self._resolve(declared).get("content", {})
        if "application/json" not in content or exchange.response is None:
            return []
        schema = content["application/json"].get("schema")
        return self._schema_problems(schema, exchange.response, "response") if schema else []

    def _schema_problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        # With the spec's components beside it, every "#/components/..." resolves in place.
        rooted = {**_normalise(schema), "components": self._components}
        validator = jsonschema.Draft202012Validator(rooted)
        return [f"{where}: {error.message}" for error in validator.iter_errors(value)]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node


def _normalise(node: Any) -> Any:
    """Make a vendor schema mean what its authors meant under JSON Schema 2020-12.

    oneOf becomes anyOf (see above), and OpenAPI 3.0's boolean ``exclusiveMinimum: true``
    beside ``minimum`` (which 2020-12 would read as the number 1) becomes the 2020-12 form.
    """
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        ("anyOf" if key == "oneOf" else key): _normalise(value) for key, value in node.items()
    }
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = result.get(exclusive)
        if isinstance(flag, bool):
            del result[exclusive]
            if flag and bound in result:
                result[exclusive] = result.pop(bound)
    return result


def _route_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))
