"""End to end: a prompt pushed through the management API and used from the official OpenAI
Python SDK as `model="prompt:NAME"`, with its variables in `extra_body`, on the real SmolLM2;
the trace names the prompt version that produced the answer."""

import json
import os
import time
import urllib.request

import openai
import pytest

BASE = os.environ["GANTRY_BASE_URL"]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as r:
        return r.status, json.load(r)


def get_trace(trace_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call("GET", f"/api/traces/{trace_id}")[1]
        except urllib.error.HTTPError as e:
            if e.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=f"{BASE}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def capital_prompt():
    status, pushed = call("POST", "/api/prompts", {
        "name": "capital",
        "model": "smollm2-135m-instruct",
        "parameters": {"temperature": 0, "max_tokens": 16},
        "variables": [{"name": "country", "type": "string"}],
        "messages": [{"role": "user", "content": "What is the capital of {{ country }}? Answer in one sentence."}],
        "message": "e2e",
    })
    assert status == 201 and pushed["version"]["version"] == 1
    status, _ = call("PUT", "/api/prompts/capital/labels/production", {"version": 1})
    assert status == 200
    return pushed


def test_a_prompt_answers_through_the_sdk_and_is_traced(client, capital_prompt):
    raw = client.chat.completions.with_raw_response.create(
        model="prompt:capital", messages=[], extra_body={"gantry": {"variables": {"country": "France"}}})
    completion = raw.parse()
    assert "Paris" in completion.choices[0].message.content
    trace = get_trace(raw.headers["x-gantry-trace-id"])
    assert trace["prompt"] == {"name": "capital", "version": 1, "label": "production",
                               "variables": {"country": "France"}}
    assert trace["request"]["messages"][0]["content"].startswith("What is the capital of France?")
    assert "gantry" not in trace["request"], "the gantry field is Gantry's own and never goes upstream"


def test_prompt_errors_are_openai_errors(client, capital_prompt):
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(model="prompt:capital", messages=[])
    assert missing.value.code and "country" in str(missing.value)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="prompt:nope", messages=[])
    assert unknown.value.code == "prompt_not_found"
