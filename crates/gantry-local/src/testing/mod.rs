//! Tiny, deterministic models that tests (in this crate and others) generate on the fly, so
//! no test needs the network or the real model files.

mod tiny_bert;
mod tiny_llama;

pub use tiny_bert::{write_tiny_bert, TINY_BERT_DIMENSION};
pub use tiny_llama::{
    write_endless_tiny_llama_gguf, write_tiny_llama_gguf, TINY_LLAMA_CONTEXT, TINY_LLAMA_GREEDY_TEXT,
    TINY_LLAMA_GREEDY_TOKENS,
};

/// SplitMix64: deterministic pseudo-random weights without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `count` values uniform in `[-scale, scale)`.
    pub(crate) fn uniform(&mut self, count: usize, scale: f32) -> Vec<f32> {
        (0..count)
            .map(|_| {
                let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                (unit * 2.0 - 1.0) * scale
            })
            .collect()
    }
}
