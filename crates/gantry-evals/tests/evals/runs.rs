//! Eval runs end to end over SQLite: a deterministic in-process "calculator" model and judge
//! stand in for the models (the embedded ones run in the CLI test), so every score below is
//! known exactly.

use async_trait::async_trait;
use gantry_core::config::{parse, validate};
use gantry_core::prompts::{self, parse_prompt, FileFormat};
use gantry_core::ErrorInfo;
use gantry_core::{Overrides, Service};
use gantry_evals::runs::{Baseline, EvalError, Evaluation, NoProgress, Suite};
use gantry_providers::{Capabilities, ChunkStream, Provider, ProviderError};
use gantry_store::NewDatasetVersion;
use gantry_types::{
    ChatChoice, ChatCompletion, ChatCompletionRequest, ChatMessage, DatasetItem, Embedding, EmbeddingRequest,
    EmbeddingResponse, EmbeddingUsage, EmbeddingVector, EvalRunStatus, FinishReason, ItemInput, Role,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `calc` answers "What is A+B?" with "#### A+B" ("#### 0" when the question says "wrong";
/// a 503 for "FAIL" while `failing` is set). `judge` answers a JSON verdict, or prose (an
/// invalid verdict) when the output it judges is "#### 0". Embeddings: letter counts.
#[derive(Default)]
struct Calculator {
    failing: AtomicBool,
}

fn sum_in(text: &str) -> Option<i64> {
    let start = text.find("What is ")? + "What is ".len();
    let rest = &text[start..];
    let end = rest.find('?')?;
    let (a, b) = rest[..end].split_once('+')?;
    Some(a.trim().parse::<i64>().ok()? + b.trim().parse::<i64>().ok()?)
}

#[async_trait]
impl Provider for Calculator {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: true, streaming: false, embeddings: true, tools: false, json_mode: false }
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        let text: String = request.messages.iter().map(|m| m.text_content()).collect::<Vec<_>>().join("\n");
        let answer = if request.model == "judge" {
            if text.contains("OUTPUT: #### 0") {
                "I am not sure what to think.".to_string()
            } else {
                r#"{"score": 4, "reason": "the sum is right"}"#.to_string()
            }
        } else if text.contains("FAIL") && self.failing.load(Ordering::SeqCst) {
            return Err(ProviderError::Upstream { status: 503, message: "calculator down".into(), retry_after: None });
        } else if text.contains("wrong") {
            "#### 0".to_string()
        } else {
            format!("#### {}", sum_in(&text).unwrap_or(-1))
        };
        Ok(ChatCompletion {
            id: "chatcmpl-test".into(),
            object: "chat.completion".into(),
            created: 0,
            model: request.model,
            choices: vec![ChatChoice {
                index: 0,
                message: ChatMessage::text(Role::Assistant, answer),
                finish_reason: Some(FinishReason::Stop),
                logprobs: None,
            }],
            usage: Some(gantry_types::Usage::new(5, 3)),
            system_fingerprint: None,
        })
    }

    async fn chat_stream(&self, _request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Unsupported("no streaming".into()))
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let texts = request.input.texts().unwrap_or_default();
        let data = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = vec![0.0f32; 26];
                for c in t.to_lowercase().chars().filter(char::is_ascii_lowercase) {
                    v[(c as u8 - b'a') as usize] += 1.0;
                }
                v[0] += 0.5; // never a zero vector
                Embedding { object: "embedding".into(), index: i as u32, embedding: EmbeddingVector::Float(v) }
            })
            .collect();
        Ok(EmbeddingResponse {
            object: "list".into(),
            data,
            model: request.model,
            usage: EmbeddingUsage { prompt_tokens: 1, total_tokens: 1 },
        })
    }
}

const CONFIG: &str = r#"
[local]
enabled = false
[providers.fake]
type = "openai"
base_url = "http://127.0.0.1:9"
[[models]]
name = "calc"
targets = [{ provider = "fake", model = "calc" }]
routing = { retries = 0 }
[[models]]
name = "judge"
targets = [{ provider = "fake", model = "judge" }]
routing = { retries = 0 }
[[models]]
name = "letters"
kind = "embeddings"
targets = [{ provider = "fake", model = "letters" }]
"#;

pub(crate) struct Fixture {
    pub(crate) service: Service,
    calculator: Arc<Calculator>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let raw = parse(CONFIG).unwrap();
        let config =
            validate(raw, Overrides { data_dir: Some(dir.path().to_path_buf()), ..Overrides::default() }).unwrap();
        let calculator = Arc::new(Calculator::default());
        let providers: HashMap<String, Arc<dyn Provider>> =
            HashMap::from([("fake".to_string(), calculator.clone() as Arc<dyn Provider>)]);
        let service = Service::with_providers(&config, &providers).await.unwrap();
        let fixture = Fixture { service, calculator, _dir: dir };
        fixture.push_prompt(ADDER).await;
        fixture.push_prompt(JUDGE).await;
        fixture
    }

    fn evaluation(&self) -> Evaluation {
        Evaluation::new(self.service.gateway.clone(), self.service.chains.clone())
    }

    async fn push_prompt(&self, toml: &str) {
        let draft = parse_prompt(toml, FileFormat::Toml, "test").unwrap();
        prompts::push(self.service.gateway.store().as_ref(), draft, None, "test").await.unwrap();
    }

    async fn dataset(&self, name: &str, items: &[DatasetItem]) {
        let store = self.service.gateway.store();
        store
            .create_dataset_version(NewDatasetVersion {
                name,
                source: "test",
                parent_version: None,
                author: "test",
                items,
            })
            .await
            .unwrap();
    }
}

const ADDER: &str = r#"
name = "adder"
model = "calc"
[[messages]]
role = "user"
content = "What is {{ a }}+{{ b }}?{% if note %} {{ note }}{% endif %}"
[[variables]]
name = "a"
type = "integer"
[[variables]]
name = "b"
type = "integer"
[[variables]]
name = "note"
required = false
"#;

const JUDGE: &str = r#"
name = "judge-sum"
model = "judge"
[[messages]]
role = "user"
content = "INPUT: {{ input }}\nOUTPUT: {{ output }}\nEXPECTED: {{ expected }}"
[[variables]]
name = "input"
[[variables]]
name = "output"
[[variables]]
name = "expected"
"#;

fn sum_item(a: i64, b: i64, expected: i64, note: Option<&str>) -> DatasetItem {
    let mut vars = Map::new();
    vars.insert("a".into(), json!(a));
    vars.insert("b".into(), json!(b));
    if let Some(note) = note {
        vars.insert("note".into(), json!(note));
    }
    DatasetItem {
        input: ItemInput::Variables(vars),
        expected: Some(json!(format!("#### {expected}"))),
        metadata: Map::new(),
    }
}

fn suite(extra: &str) -> Suite {
    let text = format!(
        r#"
name = "sums"
dataset = "sums"
concurrency = 3
[target]
prompt = "adder@1"
{extra}
[[evaluators]]
name = "answer"
type = "numeric_match"
threshold = 0.5
max_regression = 0.1
[[evaluators]]
name = "exact"
type = "exact_match"
[[evaluators]]
name = "judge"
type = "llm_judge"
prompt = "judge-sum@1"
[[evaluators]]
name = "similar"
type = "embedding_similarity"
model = "letters"
"#
    );
    Suite::parse(&text, FileFormat::Toml, "test").unwrap()
}

#[tokio::test]
async fn a_run_scores_every_item_and_stores_outputs_scores_and_traces() {
    let fx = Fixture::start().await;
    fx.dataset(
        "sums",
        &[
            sum_item(1, 2, 3, None),
            sum_item(20, 22, 42, None),
            sum_item(5, 5, 10, Some("wrong")),
            sum_item(7, 1, 9, None), // the dataset's own answer is wrong: the model says 8
        ],
    )
    .await;
    let report = fx.evaluation().run(&suite(""), Baseline::Previous, None, &NoProgress).await.unwrap();
    let run = &report.run;
    assert_eq!(run.status, EvalRunStatus::Completed);
    assert_eq!((run.items_total, run.items_done, run.items_failed), (4, 4, 0));
    assert_eq!(run.target, "prompt:adder@1");
    assert_eq!(run.dataset_version, 1);
    let metric = |evaluator: &str, metric: &str| {
        run.summaries.iter().find(|s| s.evaluator == evaluator).unwrap().metrics[metric]
    };
    assert_eq!(metric("answer", "mean"), 0.5);
    assert_eq!(metric("exact", "mean"), 0.5);
    // The judge gives 4 to three answers; its prose about "#### 0" is recorded, not scored.
    let judge = run.summaries.iter().find(|s| s.evaluator == "judge").unwrap();
    assert_eq!((judge.scored, judge.unscored), (3, 1));
    assert_eq!(judge.metrics["mean"], 4.0);
    assert!(run.gate.as_ref().unwrap().passed);
    assert!(run.baseline_run_id.is_none());

    let details = gantry_evals::runs::run_details(fx.service.gateway.store().as_ref(), &run.id).await.unwrap();
    assert_eq!(details.items.len(), 4);
    let wrong = &details.items[2];
    assert_eq!(wrong.output.as_deref(), Some("#### 0"));
    assert_eq!(wrong.scores["answer"].value, Some(0.0));
    assert!(wrong.scores["judge"].error.as_deref().unwrap().starts_with("invalid judge answer"));
    assert_eq!(details.items[1].scores["judge"].reason.as_deref(), Some("the sum is right"));
    let identical = details.items[0].scores["similar"].value.unwrap();
    assert!((identical - 1.0).abs() < 1e-6, "identical texts embed the same: {identical}");

    // Every item's call, and the judge's and the embedding's, are traced under the item.
    let trace_id = details.items[0].trace_id.unwrap();
    let gateway = fx.service.gateway.clone();
    fx.service.shutdown().await; // commits every queued trace
    let tree = gateway.get_trace_tree(trace_id).await.unwrap().unwrap();
    assert_eq!(tree.record.prompt.as_ref().unwrap().name, "adder");
    let span_names: Vec<String> = tree.spans.iter().filter_map(|c| c.record.name.clone()).collect();
    assert!(span_names.contains(&"eval:judge".to_string()), "{span_names:?}");
    assert!(span_names.contains(&"eval:similar".to_string()), "{span_names:?}");
}

#[tokio::test]
async fn failed_items_are_counted_fail_the_gate_and_a_resume_retries_only_them() {
    let fx = Fixture::start().await;
    fx.dataset("sums", &[sum_item(1, 1, 2, None), sum_item(2, 2, 4, Some("FAIL")), sum_item(3, 3, 6, None)]).await;
    fx.calculator.failing.store(true, Ordering::SeqCst);
    let first = fx.evaluation().run(&suite(""), Baseline::None, None, &NoProgress).await.unwrap().run;
    assert_eq!((first.items_done, first.items_failed), (3, 1));
    let gate = first.gate.as_ref().unwrap();
    assert!(!gate.passed);
    let failed = gate.checks.iter().find(|c| !c.passed).unwrap();
    assert_eq!(failed.metric, "failed_items");
    let answer = first.summaries.iter().find(|s| s.evaluator == "answer").unwrap();
    assert_eq!((answer.scored, answer.unscored), (2, 1));

    // A completed run is not resumed; a running one is, keeping its good items.
    let refused = fx.evaluation().run(&suite(""), Baseline::None, Some(&first.id), &NoProgress).await.unwrap_err();
    assert_eq!(refused.code(), "eval_run_not_resumable");
    let store = fx.service.gateway.store();
    let mut reopened = first.clone();
    reopened.status = EvalRunStatus::Running;
    store.finish_eval_run(&reopened).await.unwrap();
    let kept_trace = store.eval_run_items(&first.id).await.unwrap()[0].trace_id;

    fx.calculator.failing.store(false, Ordering::SeqCst);
    let resumed = fx.evaluation().run(&suite(""), Baseline::None, Some(&first.id), &NoProgress).await.unwrap().run;
    assert_eq!(resumed.id, first.id);
    assert_eq!((resumed.items_done, resumed.items_failed), (3, 0));
    assert!(resumed.gate.as_ref().unwrap().passed);
    let items = store.eval_run_items(&first.id).await.unwrap();
    assert_eq!(items[0].trace_id, kept_trace, "finished items are not run again");
    assert_eq!(items[1].output.as_deref(), Some("#### 4"));
}

#[tokio::test]
async fn the_next_run_is_compared_with_the_last_and_a_regression_fails_the_gate() {
    let fx = Fixture::start().await;
    fx.dataset("sums", &[sum_item(1, 1, 2, None), sum_item(2, 2, 4, None)]).await;
    let first = fx.evaluation().run(&suite(""), Baseline::Previous, None, &NoProgress).await.unwrap().run;
    assert_eq!(first.summaries.iter().find(|s| s.evaluator == "answer").unwrap().metrics["mean"], 1.0);

    // Version 2 of the dataset makes the model answer one item wrong: 1.0 -> 0.5 is a drop
    // of 0.5, more than the 0.1 the suite allows, though still at the 0.5 threshold.
    fx.dataset("sums", &[sum_item(1, 1, 2, None), sum_item(2, 2, 4, Some("wrong"))]).await;
    let second = fx.evaluation().run(&suite(""), Baseline::Previous, None, &NoProgress).await.unwrap();
    assert_eq!(second.run.dataset_version, 2);
    assert_eq!(second.run.baseline_run_id.as_deref(), Some(first.id.as_str()));
    let gate = second.run.gate.as_ref().unwrap();
    assert!(!gate.passed);
    let check = gate.checks.iter().find(|c| c.evaluator == "answer").unwrap();
    assert_eq!((check.value, check.baseline), (0.5, Some(1.0)));
    assert!(check.reason.as_deref().unwrap().contains("below the baseline"));
    let delta = second.deltas.iter().find(|d| d.evaluator == "answer" && d.metric == "mean").unwrap();
    assert_eq!(delta.delta, Some(-0.5));

    let comparison =
        gantry_evals::runs::compare(fx.service.gateway.store().as_ref(), &first.id, &second.run.id).await.unwrap();
    assert_eq!(comparison.changes["answer"].regressed, 1);
    assert_eq!(comparison.changes["answer"].unchanged, 1);
    assert_eq!(comparison.items.len(), 2);
}

#[tokio::test]
async fn bad_suites_and_mismatched_inputs_are_refused_before_anything_runs() {
    let fx = Fixture::start().await;
    let messages = DatasetItem {
        input: ItemInput::Messages(vec![ChatMessage::text(Role::User, "What is 1+1?")]),
        expected: Some(Value::String("#### 2".into())),
        metadata: Map::new(),
    };
    fx.dataset("chat", &[messages]).await;
    // A model target takes messages as they are.
    let model_suite = Suite::parse(
        "name = \"m\"\ndataset = \"chat\"\n[target]\nmodel = \"calc\"\n[[evaluators]]\nname = \"a\"\ntype = \"numeric_match\"\n",
        FileFormat::Toml,
        "test",
    )
    .unwrap();
    let run = fx.evaluation().run(&model_suite, Baseline::None, None, &NoProgress).await.unwrap().run;
    assert_eq!(run.summaries[0].metrics["mean"], 1.0);

    // A prompt target's variables cannot come from a messages-only dataset version 1 of "sums".
    fx.dataset("sums", &[messages_item()]).await;
    let chain_suite = Suite::parse(
        "name = \"c\"\ndataset = \"sums\"\n[target]\nchain = \"nope\"\n[[evaluators]]\nname = \"a\"\ntype = \"json_valid\"\n",
        FileFormat::Toml,
        "test",
    )
    .unwrap();
    let err = fx.evaluation().run(&chain_suite, Baseline::None, None, &NoProgress).await.unwrap_err();
    assert!(matches!(err, EvalError::Target { .. }), "{err}");

    let missing = Suite::parse(
        "name = \"x\"\ndataset = \"nothing\"\n[target]\nmodel = \"calc\"\n[[evaluators]]\nname = \"a\"\ntype = \"json_valid\"\n",
        FileFormat::Toml,
        "test",
    )
    .unwrap();
    let err = fx.evaluation().run(&missing, Baseline::None, None, &NoProgress).await.unwrap_err();
    assert_eq!(err.code(), "dataset_unavailable");

    for (text, needle) in [
        ("name = \"x\"\ndataset = \"d\"\n[target]\n[[evaluators]]\nname = \"a\"\ntype = \"json_valid\"\n", "names nothing"),
        ("name = \"x\"\ndataset = \"d\"\n[target]\nmodel = \"m\"\n", "evaluators"),
        ("name = \"x\"\ndataset = \"d\"\n[target]\nmodel = \"m\"\n[[evaluators]]\nname = \"a\"\ntype = \"regex\"\npattern = \"(\"\n", "bad pattern"),
        ("name = \"x\"\ndataset = \"d\"\n[target]\nmodel = \"m\"\n[[evaluators]]\nname = \"a\"\ntype = \"nope\"\n", "nope"),
        ("name = \"x\"\ndataset = \"d\"\nconcurrency = 0\n[target]\nmodel = \"m\"\n[[evaluators]]\nname = \"a\"\ntype = \"json_valid\"\n", "concurrency"),
    ] {
        let err = Suite::parse(text, FileFormat::Toml, "suite.toml").unwrap_err();
        assert_eq!(err.code(), "invalid_eval_suite");
        assert!(err.to_string().contains(needle), "{err} should mention {needle}");
    }
}

fn messages_item() -> DatasetItem {
    DatasetItem {
        input: ItemInput::Messages(vec![ChatMessage::text(Role::User, "hi")]),
        expected: None,
        metadata: Map::new(),
    }
}

#[tokio::test]
async fn the_items_a_run_scored_low_go_to_a_review_queue_with_their_dataset_context() {
    use gantry_evals::review::{self, AddItemsRequest, EvalRunItems};
    use gantry_types::{Criterion, NewReviewQueue, Rubric, Scale};
    let fx = Fixture::start().await;
    fx.dataset("sums", &[sum_item(1, 2, 3, None), sum_item(5, 5, 10, Some("wrong")), sum_item(2, 2, 4, None)]).await;
    let run = fx.evaluation().run(&suite(""), Baseline::None, None, &NoProgress).await.unwrap().run;
    let store = fx.service.gateway.store().as_ref();
    let rubric =
        Rubric { criteria: vec![Criterion { name: "correct".into(), description: None, scale: Scale::Boolean }] };
    review::create_queue(
        store,
        NewReviewQueue { name: "sums-review".into(), description: None, rubric, instructions: None },
    )
    .await
    .unwrap();

    let low = EvalRunItems { run_id: run.id.clone(), evaluator: Some("answer".into()), below: Some(1.0) };
    let request = AddItemsRequest { eval_run: Some(low), ..Default::default() };
    let added = review::add_items(store, "sums-review", request).await.unwrap();
    assert_eq!(added.len(), 1, "only the wrong answer scored below 1");
    let item = &added[0];
    assert_eq!(item.source.eval_run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(item.source.eval_item_index, Some(1));
    assert_eq!(item.output, "#### 0");
    assert_eq!(item.expected, Some(json!("#### 10")));
    let details = gantry_evals::runs::run_details(store, &run.id).await.unwrap();
    assert_eq!(item.source.trace_id, details.items[1].trace_id);

    let everything = EvalRunItems { run_id: run.id.clone(), evaluator: None, below: None };
    let request = AddItemsRequest { eval_run: Some(everything), ..Default::default() };
    assert_eq!(review::add_items(store, "sums-review", request).await.unwrap().len(), 3);

    for (selection, code) in [
        (EvalRunItems { run_id: "nope".into(), evaluator: None, below: None }, "eval_run_not_found"),
        (
            EvalRunItems { run_id: run.id.clone(), evaluator: Some("answer".into()), below: None },
            "invalid_review_items",
        ),
        (
            EvalRunItems { run_id: run.id.clone(), evaluator: Some("nope".into()), below: Some(1.0) },
            "invalid_review_items",
        ),
    ] {
        let request = AddItemsRequest { eval_run: Some(selection), ..Default::default() };
        assert_eq!(review::add_items(store, "sums-review", request).await.unwrap_err().code(), code);
    }
}
