//! A tiny llama-architecture GGUF whose greedy answer is known in advance.
//!
//! The transformer layers get small weights, so the final hidden state is close to the last
//! token's embedding; the output matrix maps each token's embedding onto the token that
//! should follow it. Greedy decoding after the prompt's final newline therefore walks a
//! fixed chain of tokens (including a character split over two and one over three byte
//! tokens) and ends with `<|im_end|>`.

use super::Rng;
use crate::template::CHATML_TEMPLATE;
use crate::LocalError;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The text greedy decoding produces (then `<|im_end|>`).
pub const TINY_LLAMA_GREEDY_TEXT: &str = "Helo wörd! €";
/// Tokens greedy decoding samples, the end-of-turn token included.
pub const TINY_LLAMA_GREEDY_TOKENS: u32 = 15;
/// The tiny model's training context, in tokens.
pub const TINY_LLAMA_CONTEXT: u32 = 1024;

const N_EMBD: usize = 64;
const N_HEAD: usize = 4;
const N_HEAD_KV: usize = 2;
const N_FF: usize = 128;
const N_LAYER: usize = 2;
const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
const MERGES: [&str; 6] = ["Ġ w", "Ġ t", "h e", "Ġt he", "i n", "e r"];

/// GPT-2's byte-to-character table: printable bytes stand for themselves, the rest are
/// shifted above U+0100 so every byte has a visible token string.
fn byte_to_char(b: u8) -> char {
    let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
    if printable {
        return char::from(b);
    }
    let shifted = (0..b).filter(|&x| !((33..=126).contains(&x) || (161..=172).contains(&x) || x >= 174)).count();
    char::from_u32(256 + shifted as u32).unwrap_or('?')
}

fn vocabulary() -> Vec<String> {
    let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    tokens.extend((0..=255u8).map(|b| byte_to_char(b).to_string()));
    tokens.extend(MERGES.iter().map(|m| m.replace(' ', "")));
    tokens
}

/// The chain greedy decoding follows, as token strings, starting after "\n".
fn greedy_chain() -> Vec<String> {
    let bytes = |s: &str| s.bytes().map(|b| byte_to_char(b).to_string()).collect::<Vec<_>>();
    let mut chain = bytes("Helo");
    chain.push("Ġw".to_string());
    chain.extend(bytes("ö"));
    chain.extend(bytes("rd!"));
    chain.extend(bytes(" €"));
    chain.push("<|im_end|>".to_string());
    chain
}

fn f32_tensor(data: Vec<f32>, shape: &[usize]) -> Result<QTensor, LocalError> {
    let t = Tensor::from_vec(data, shape, &Device::Cpu).map_err(|e| LocalError::Write(e.to_string()))?;
    QTensor::quantize(&t, GgmlDType::F32).map_err(|e| LocalError::Write(e.to_string()))
}

/// Writes the tiny model to `path` (about 200 KB, F32 weights).
pub fn write_tiny_llama_gguf(path: &Path) -> Result<(), LocalError> {
    write_model(path, false)
}

/// Writes a variant that never ends a turn: greedy decoding repeats the chain of
/// [`TINY_LLAMA_GREEDY_TEXT`] without `<|im_end|>` until `max_tokens` or the context window
/// runs out. For tests of cancellation, timeouts and queueing.
pub fn write_endless_tiny_llama_gguf(path: &Path) -> Result<(), LocalError> {
    write_model(path, true)
}

fn write_model(path: &Path, endless: bool) -> Result<(), LocalError> {
    let vocab = vocabulary();
    let n_vocab = vocab.len();
    let id: HashMap<&str, usize> = vocab.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let mut rng = Rng::new(0x5eed_11a3a);

    let embeddings: Vec<f32> = rng.uniform(n_vocab * N_EMBD, 1.0);
    // Output row k = 0.2 * embedding of the token that k should follow; other rows are noise
    // of the same size, so sampling at temperature 1 still varies.
    let mut output: Vec<f32> = rng.uniform(n_vocab * N_EMBD, 0.2);
    let mut chain = greedy_chain();
    if endless {
        // Back to the first token instead of ending the turn.
        chain.pop();
        chain.push(chain[0].clone());
    }
    let ids = chain
        .iter()
        .map(|t| id.get(t.as_str()).copied().ok_or_else(|| LocalError::Write(format!("no token {t}"))))
        .collect::<Result<Vec<usize>, _>>()?;
    for &k in &ids {
        output[k * N_EMBD..(k + 1) * N_EMBD].fill(0.0);
    }
    let mut previous = id.get("Ċ").copied().unwrap_or(0);
    for &k in &ids {
        // Accumulated, not assigned: in the endless variant the first token follows two.
        for d in 0..N_EMBD {
            output[k * N_EMBD + d] += 0.2 * embeddings[previous * N_EMBD + d];
        }
        previous = k;
    }
    // Never predict the other control tokens: they render as nothing and would end turns.
    let silent: &[&str] =
        if endless { &["<|endoftext|>", "<|im_start|>", "<|im_end|>"] } else { &["<|endoftext|>", "<|im_start|>"] };
    for special in silent.iter().copied() {
        let k = id.get(special).copied().unwrap_or(0);
        output[k * N_EMBD..(k + 1) * N_EMBD].fill(0.0);
    }

    let head_dim = N_EMBD / N_HEAD;
    let kv_dim = head_dim * N_HEAD_KV;
    let small = 0.02;
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), f32_tensor(embeddings, &[n_vocab, N_EMBD])?),
        ("output_norm.weight".into(), f32_tensor(vec![1.0; N_EMBD], &[N_EMBD])?),
        ("output.weight".into(), f32_tensor(output, &[n_vocab, N_EMBD])?),
    ];
    for layer in 0..N_LAYER {
        // candle shapes are (out, in); the GGUF writer reverses them into ggml's (in, out).
        let shapes: [(&str, Vec<usize>, f32); 9] = [
            ("attn_norm", vec![N_EMBD], 1.0),
            ("attn_q", vec![N_EMBD, N_EMBD], small),
            ("attn_k", vec![kv_dim, N_EMBD], small),
            ("attn_v", vec![kv_dim, N_EMBD], small),
            ("attn_output", vec![N_EMBD, N_EMBD], small),
            ("ffn_norm", vec![N_EMBD], 1.0),
            ("ffn_gate", vec![N_FF, N_EMBD], small),
            ("ffn_up", vec![N_FF, N_EMBD], small),
            ("ffn_down", vec![N_EMBD, N_FF], small),
        ];
        for (name, shape, scale) in shapes {
            let count = shape.iter().product();
            let data = if name.ends_with("norm") { vec![scale; count] } else { rng.uniform(count, scale) };
            tensors.push((format!("blk.{layer}.{name}.weight"), f32_tensor(data, &shape)?));
        }
    }

    let token_types: Vec<Value> = (0..n_vocab).map(|i| Value::I32(if i < SPECIALS.len() { 3 } else { 1 })).collect();
    let u32v = |v: usize| Value::U32(v as u32);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("gantry tiny llama (test model)".into())),
        ("general.file_type", Value::U32(0)),
        ("llama.vocab_size", u32v(n_vocab)),
        ("llama.context_length", Value::U32(TINY_LLAMA_CONTEXT)),
        ("llama.embedding_length", u32v(N_EMBD)),
        ("llama.block_count", u32v(N_LAYER)),
        ("llama.feed_forward_length", u32v(N_FF)),
        ("llama.attention.head_count", u32v(N_HEAD)),
        ("llama.attention.head_count_kv", u32v(N_HEAD_KV)),
        ("llama.rope.dimension_count", u32v(head_dim)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", Value::Array(vocab.iter().map(|t| Value::String(t.clone())).collect())),
        ("tokenizer.ggml.token_type", Value::Array(token_types)),
        ("tokenizer.ggml.merges", Value::Array(MERGES.iter().map(|m| Value::String(m.to_string())).collect())),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.padding_token_id", Value::U32(2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        ("tokenizer.ggml.add_space_prefix", Value::Bool(false)),
        ("tokenizer.chat_template", Value::String(CHATML_TEMPLATE.into())),
    ];
    let metadata_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| LocalError::io("creating", path, e))?);
    gguf_file::write(&mut file, &metadata_refs, &tensor_refs).map_err(|e| LocalError::Write(e.to_string()))?;
    std::io::Write::flush(&mut file).map_err(|e| LocalError::io("writing", path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_matches_gpt2() {
        assert_eq!(byte_to_char(b'A'), 'A');
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(0), 'Ā');
        let vocab = vocabulary();
        let unique: std::collections::HashSet<_> = vocab.iter().collect();
        assert_eq!(unique.len(), vocab.len());
        let chain = greedy_chain();
        let unique: std::collections::HashSet<_> = chain.iter().collect();
        assert_eq!(unique.len(), chain.len(), "the chain must not revisit a token");
        assert_eq!(chain.len() as u32, TINY_LLAMA_GREEDY_TOKENS);
    }
}
