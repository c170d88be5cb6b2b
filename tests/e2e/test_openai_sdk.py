"""End to end: the official OpenAI Python SDK against a running `gantry serve` on the real
embedded models (SmolLM2-135M-Instruct and all-MiniLM-L6-v2), then the traces read back."""

import json
import math
import os
import time
import urllib.request

import openai
import pytest

from reference_minilm import ReferenceMiniLM

BASE = os.environ["GANTRY_BASE_URL"]
MODELS_DIR = os.environ["GANTRY_TEST_MODELS_DIR"] + "/models"
CHAT_MODEL = "smollm2-135m-instruct"
EMBED_MODEL = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=f"{BASE}/v1", api_key="unused", max_retries=0, timeout=120)


def get_trace(trace_id, timeout=10.0):
    """Traces are written asynchronously in batches: poll until this one is stored."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{BASE}/api/traces/{trace_id}") as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_models_are_listed(client):
    ids = [m.id for m in client.models.list()]
    assert ids == [CHAT_MODEL, EMBED_MODEL]


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is 2+2?"}],
        temperature=0,
        max_tokens=40,
    )
    completion = raw.parse()
    answer = completion.choices[0].message.content
    assert "4" in answer
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 5
    assert 0 < completion.usage.completion_tokens <= 40
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    trace = get_trace(raw.headers["x-gantry-trace-id"])
    assert trace["status"] == "ok"
    assert trace["requested_model"] == CHAT_MODEL
    assert trace["provider"] == "local"
    assert trace["prompt_tokens"] == completion.usage.prompt_tokens
    assert trace["completion_tokens"] == completion.usage.completion_tokens
    assert trace["response"]["content"] == answer
    assert trace["request"]["messages"][0]["content"] == "What is 2+2?"
    assert trace["cost_usd"] == 0.0
    assert trace["latency_ms"] > 0


def test_streamed_chat_with_usage(client):
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the capital of Germany?"}],
        temperature=0,
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    trace_id = raw.headers["x-gantry-trace-id"]
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Berlin" in text
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1], "usage comes in the final chunk only"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert 0 < usage.completion_tokens <= 30

    trace = get_trace(trace_id)
    assert trace["stream"] is True
    assert trace["status"] == "ok"
    assert trace["completion_tokens"] == usage.completion_tokens
    assert trace["ttft_ms"] is not None and 0 < trace["ttft_ms"] <= trace["latency_ms"]
    assert trace["response"]["content"] == text


def test_embeddings(client):
    sentences = ["a cat sits on the mat", "a kitten is sitting on a rug", "stock markets fell sharply today"]
    raw = client.embeddings.with_raw_response.create(model=EMBED_MODEL, input=sentences)
    result = raw.parse()
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    # Values of the numpy reference below on the same files: 0.6945 and 0.0626.
    assert abs(cos(vectors[0], vectors[1]) - 0.6945) < 0.005
    assert abs(cos(vectors[0], vectors[2]) - 0.0626) < 0.005
    reference = ReferenceMiniLM(MODELS_DIR + "/all-MiniLM-L6-v2")
    for sentence, vector in zip(sentences, vectors):
        expected = reference.embed(sentence)
        assert max(abs(float(a) - float(b)) for a, b in zip(vector, expected)) < 1e-4
    assert result.usage.prompt_tokens > 0

    single = client.embeddings.create(model=EMBED_MODEL, input="a cat sits on the mat")
    assert max(abs(x - y) for x, y in zip(single.data[0].embedding, vectors[0])) < 1e-4

    trace = get_trace(raw.headers["x-gantry-trace-id"])
    assert trace["kind"] == "embeddings"
    assert trace["prompt_tokens"] == result.usage.prompt_tokens


def test_errors_are_openai_shaped(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=CHAT_MODEL, messages=[])
    assert err.value.body["param"] == "messages"
