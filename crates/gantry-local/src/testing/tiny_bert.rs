//! A tiny BERT with a WordPiece tokenizer, laid out like a sentence-transformers model
//! directory (config.json, model.safetensors, tokenizer.json).

use super::Rng;
use crate::LocalError;
use candle_core::{Device, Tensor};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Length of the tiny model's embeddings.
pub const TINY_BERT_DIMENSION: usize = 32;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const INTERMEDIATE: usize = 64;
const MAX_POSITIONS: usize = 512;
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS: [&str; 22] = [
    "the", "cat", "dog", "kitten", "sat", "sits", "sitting", "is", "on", "mat", "rug", "stock", "market", "fell",
    "today", "hello", "world", "##s", "##ing", ".", ",", "!",
];

fn vocabulary() -> Vec<String> {
    let mut vocab: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    vocab.extend(('a'..='z').map(String::from));
    vocab.extend(('0'..='9').map(String::from));
    vocab.extend(WORDS.iter().map(|s| s.to_string()));
    vocab
}

fn tokenizer_json(vocab: &[String]) -> serde_json::Value {
    let ids: serde_json::Map<String, serde_json::Value> =
        vocab.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    let added: Vec<serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        // Same fixed padding/truncation as the real all-MiniLM-L6-v2 file, so tests cover
        // the loader overriding it.
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids}
    })
}

/// Writes config.json, tokenizer.json and model.safetensors of a tiny BERT into `dir`
/// (created if missing).
pub fn write_tiny_bert(dir: &Path) -> Result<(), LocalError> {
    std::fs::create_dir_all(dir).map_err(|e| LocalError::io("creating", dir, e))?;
    let vocab = vocabulary();
    let h = TINY_BERT_DIMENSION;
    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab.len(),
        "hidden_size": h, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": MAX_POSITIONS,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute"
    });
    let write_json = |name: &str, value: &serde_json::Value| -> Result<(), LocalError> {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| LocalError::Write(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| LocalError::io("writing", &path, e))
    };
    write_json("config.json", &config)?;
    write_json("tokenizer.json", &tokenizer_json(&vocab))?;

    let mut rng = Rng::new(0xbe27);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut add = |name: String, shape: &[usize], values: Option<f32>| -> Result<(), LocalError> {
        let count = shape.iter().product();
        let data = match values {
            Some(v) => vec![v; count],
            None => rng.uniform(count, 0.5),
        };
        let t = Tensor::from_vec(data, shape, &Device::Cpu).map_err(|e| LocalError::Write(e.to_string()))?;
        tensors.insert(name, t);
        Ok(())
    };
    add("embeddings.word_embeddings.weight".into(), &[vocab.len(), h], None)?;
    add("embeddings.position_embeddings.weight".into(), &[MAX_POSITIONS, h], None)?;
    add("embeddings.token_type_embeddings.weight".into(), &[2, h], None)?;
    add("embeddings.LayerNorm.weight".into(), &[h], Some(1.0))?;
    add("embeddings.LayerNorm.bias".into(), &[h], Some(0.0))?;
    for i in 0..LAYERS {
        let p = format!("encoder.layer.{i}");
        for part in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            add(format!("{p}.{part}.weight"), &[h, h], None)?;
            add(format!("{p}.{part}.bias"), &[h], Some(0.0))?;
        }
        add(format!("{p}.intermediate.dense.weight"), &[INTERMEDIATE, h], None)?;
        add(format!("{p}.intermediate.dense.bias"), &[INTERMEDIATE], Some(0.0))?;
        add(format!("{p}.output.dense.weight"), &[h, INTERMEDIATE], None)?;
        add(format!("{p}.output.dense.bias"), &[h], Some(0.0))?;
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(format!("{p}.{norm}.weight"), &[h], Some(1.0))?;
            add(format!("{p}.{norm}.bias"), &[h], Some(0.0))?;
        }
    }
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &path).map_err(|e| LocalError::Write(e.to_string()))
}
