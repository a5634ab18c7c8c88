"""The spec checker that keeps the loopback fakes honest must itself catch faults."""

from __future__ import annotations

from tests.fakes.openai_server import openai_spec
from tests.fakes.openapi import Exchange

GOOD_RESPONSE = {"text": "hello"}


def transcription(body: dict[str, str], files: set[str], response: object) -> Exchange:
    return Exchange(
        "POST", "/v1/audio/transcriptions", "multipart/form-data; boundary=x", body, 200,
        response, files,
    )  # fmt: skip


def test_a_conforming_exchange_passes() -> None:
    exchange = transcription({"model": "whisper-1"}, {"file"}, GOOD_RESPONSE)
    assert openai_spec().problems(exchange) == []


def test_missing_and_unknown_fields_are_caught() -> None:
    exchange = transcription({"modle": "whisper-1"}, {"file"}, GOOD_RESPONSE)
    problems = " ".join(openai_spec().problems(exchange))
    assert "missing required field 'model'" in problems
    assert "unknown field 'modle'" in problems


def test_a_bad_enum_value_is_caught() -> None:
    exchange = transcription(
        {"model": "whisper-1", "response_format": "yaml"}, {"file"}, GOOD_RESPONSE
    )
    assert any("response_format" in problem for problem in openai_spec().problems(exchange))


def test_a_response_of_the_wrong_shape_is_caught() -> None:
    exchange = transcription({"model": "whisper-1"}, {"file"}, {"transcript": 42})
    assert any("response" in problem for problem in openai_spec().problems(exchange))


def test_an_unknown_route_is_caught() -> None:
    exchange = Exchange("POST", "/v1/audio/transcribe", "application/json", {}, 200, None)
    try:
        openai_spec().problems(exchange)
    except AssertionError as error:
        assert "not in the spec" in str(error)
    else:
        raise AssertionError("an unknown route passed")
