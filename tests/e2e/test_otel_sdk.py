"""End to end: an application instrumented with the OpenTelemetry Python SDK sends GenAI spans
(a workflow span with two LLM calls under it, one of them failed) to Gantry's OTLP endpoint with
the SDK's own OTLP/HTTP exporter (protobuf, plain and gzip) and as OTLP JSON; each batch shows
up in /api/traces as a trace tree with its models, tokens, messages and error."""

import base64
import json
import os
import urllib.request
import uuid

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

BASE = os.environ["GANTRY_BASE_URL"]


def get(path):
    with urllib.request.urlopen(f"{BASE}{path}") as r:
        return json.load(r)


def emit_workflow(provider, tag):
    """The application's spans; returns the OTel trace id (hex)."""
    tracer = provider.get_tracer("shop.assistant", "1.0")
    with tracer.start_as_current_span(f"support.workflow.{tag}") as root:
        root.set_attribute("traceloop.span.kind", "workflow")
        root.set_attribute("run.tag", tag)
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as llm:
            llm.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.request.temperature": 0.2,
                "gen_ai.request.max_tokens": 64,
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "Where is my parcel?",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "It ships tomorrow.",
            })
        with tracer.start_as_current_span("chat claude-3-5-haiku", kind=SpanKind.CLIENT) as failed:
            failed.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-3-5-haiku",
                "gen_ai.usage.input_tokens": 50,
                "error.type": "overloaded_error",
            })
            failed.set_status(Status(StatusCode.ERROR, "upstream overloaded"))
    return format(root.get_span_context().trace_id, "032x")


def find_root(otel_trace_id):
    roots = get("/api/traces?limit=100")["data"]
    matches = [r for r in roots if r["request"].get("otel", {}).get("trace_id") == otel_trace_id]
    assert len(matches) == 1, [r["name"] for r in roots]
    return matches[0]


def assert_workflow(otel_trace_id, tag):
    root = find_root(otel_trace_id)
    assert root["kind"] == "span"
    assert root["name"] == f"support.workflow.{tag}"
    assert root["parent_id"] is None
    assert root["request"]["otel"]["service_name"] == "py-shop"
    assert root["request"]["otel"]["attributes"]["run.tag"] == tag
    assert root["prompt_tokens"] is None

    tree = get(f"/api/traces/{root['id']}")
    spans = {s["name"]: s for s in tree["spans"]}
    assert sorted(spans) == ["chat claude-3-5-haiku", "chat gpt-4o-mini"]
    chat = spans["chat gpt-4o-mini"]
    assert chat["parent_id"] == root["id"]
    assert chat["kind"] == "chat" and chat["status"] == "ok"
    assert chat["requested_model"] == "gpt-4o-mini"
    assert chat["upstream_model"] == "gpt-4o-mini-2024-07-18"
    assert chat["provider"] == "openai"
    assert (chat["prompt_tokens"], chat["completion_tokens"], chat["total_tokens"]) == (120, 30, 150)
    assert chat["finish_reason"] == "stop"
    assert chat["request"]["messages"] == [{"role": "user", "content": "Where is my parcel?"}]
    assert chat["request"]["temperature"] == 0.2 and chat["request"]["max_tokens"] == 64
    assert chat["response"] == {"role": "assistant", "content": "It ships tomorrow."}
    assert chat["request"]["otel"]["span_kind"] == "client"
    assert chat["latency_ms"] >= 0

    failed = spans["chat claude-3-5-haiku"]
    assert failed["status"] == "error"
    assert failed["error"] == {"code": "overloaded_error", "message": "upstream overloaded"}
    assert failed["provider"] == "anthropic"
    assert (failed["prompt_tokens"], failed["completion_tokens"]) == (50, None)
    return tree


def sdk_provider(exporter):
    provider = TracerProvider(resource=Resource.create({"service.name": "py-shop"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def test_sdk_exporter_sends_protobuf_spans_that_become_a_trace_tree():
    provider = sdk_provider(OTLPSpanExporter(endpoint=f"{BASE}/v1/traces", timeout=30))
    trace_id = emit_workflow(provider, "protobuf")
    assert provider.force_flush(30_000)
    # Gantry answers once the spans are stored: no waiting.
    assert_workflow(trace_id, "protobuf")
    provider.shutdown()


def test_sdk_exporter_with_gzip():
    exporter = OTLPSpanExporter(endpoint=f"{BASE}/v1/traces", compression=Compression.Gzip, timeout=30)
    provider = sdk_provider(exporter)
    trace_id = emit_workflow(provider, "gzip")
    assert provider.force_flush(30_000)
    assert_workflow(trace_id, "gzip")
    provider.shutdown()


def to_otlp_json(spans):
    """The SDK's own protobuf encoding of `spans`, written as OTLP JSON: lowerCamelCase,
    enums as numbers, int64 as strings, and trace/span ids as hex (where the generic protobuf
    JSON mapping would write base64)."""
    message = json_format.MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in message["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()
    return message


def test_otlp_json_posted_by_hand():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "py-shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace_id = emit_workflow(provider, "json")
    body = to_otlp_json(memory.get_finished_spans())
    assert body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"].isdigit()
    request = urllib.request.Request(f"{BASE}/v1/traces", data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        assert json.load(r) == {}
    tree = assert_workflow(trace_id, "json")

    # The same spans again are stored once.
    with urllib.request.urlopen(request) as r:
        assert r.status == 200
    again = get(f"/api/traces/{tree['id']}")
    assert len(again["spans"]) == 2
    assert uuid.UUID(tree["id"]).version == 8
