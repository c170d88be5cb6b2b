"""End to end: an application calls the real SmolLM2 through the official OpenAI SDK, reads the
trace id from the `x-gantry-trace-id` header, sends its user's thumbs-down as feedback, and the
disliked call becomes a dataset item and a review item, as the improvement loop needs."""

import json
import os
import time
import urllib.error
import urllib.request

import openai

BASE = os.environ["GANTRY_BASE_URL"]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        e.msg = f"{e.msg}: {e.read().decode()}"
        raise


def until_written(method, path, body, timeout=10.0):
    """Traces are committed in batches: feedback on a call a moment old may get 404 first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call(method, path, body)
        except urllib.error.HTTPError as e:
            if e.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_feedback_from_the_trace_header_feeds_datasets_and_review():
    client = openai.OpenAI(base_url=f"{BASE}/v1", api_key="unused", max_retries=0, timeout=120)
    raw = client.chat.completions.with_raw_response.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Name a fruit."}],
        max_tokens=8,
        temperature=0,
    )
    trace_id = raw.headers["x-gantry-trace-id"]
    answer = raw.parse().choices[0].message.content

    status, feedback = until_written("POST", f"/api/traces/{trace_id}/feedback",
                                     {"name": "thumbs", "value": False, "comment": "not helpful"})
    assert status == 201
    assert feedback["trace_id"] == trace_id and feedback["value"] is False

    _, summary = call("GET", "/api/feedback/summary?group_by=model&name=thumbs")
    row = next(r for r in summary["data"] if r["group"] == "smollm2-135m-instruct")
    assert row["count"] == 1 and row["mean"] == 0.0

    status, outcome = call("POST", "/api/datasets/disliked/from-traces",
                           {"feedback": {"name": "thumbs", "max": 0}})
    assert status == 201 and outcome["version"]["items"] == 1
    _, page = call("GET", "/api/datasets/disliked/versions/1/items")
    item = page["data"][0]
    assert item["input"] == [{"role": "user", "content": "Name a fruit."}]
    assert item["expected"] == answer
    assert item["metadata"]["trace_id"] == trace_id

    rubric = {"criteria": [{"name": "helpful", "scale": {"type": "numeric", "min": 1, "max": 5}}]}
    assert call("POST", "/api/review/queues", {"name": "disliked", "rubric": rubric})[0] == 201
    status, added = call("POST", "/api/review/queues/disliked/items", {"trace_ids": [trace_id]})
    assert status == 201 and added["data"][0]["output"] == answer
