"""The one wording of errors with their places, which every front end shows."""

from __future__ import annotations

from voxdesk.core.training.findings import Finding, name_examples, name_places


def test_each_place_once_with_what_is_wrong_there_the_whole_file_first() -> None:
    findings = [
        Finding(0, "too_few_examples", "3 examples; the API needs at least 10"),
        Finding(2, "missing_content", "a message has no text content", example=40),
        Finding(2, "unrecognized_role", "a message has an unknown role", example=40),
        Finding(3, "unrecognized_role", "a message has an unknown role"),
        Finding(3, "unrecognized_role", "a message has an unknown role"),  # two such messages
    ]
    assert name_places(findings) == (
        "3 examples; the API needs at least 10; example 40 (a message has no text content, "
        "a message has an unknown role); line 3 (a message has an unknown role)"
    )
    assert name_places(findings, shown=2).endswith("unknown role) and 1 more")


def test_examples_by_their_codes_read_like_findings() -> None:
    problems = {11: ["example_missing_assistant_message"], 13: ["secret_openai_key"]}
    assert name_examples(problems) == (
        "example 11 (no assistant message to learn from); "
        "example 13 (contains what looks like an OpenAI API key)"
    )
