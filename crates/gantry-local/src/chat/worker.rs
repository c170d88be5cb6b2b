//! The generation thread: it owns the llama.cpp context (which must not be shared between
//! threads) and decodes every active request together, one token per request per step
//! (continuous batching), so concurrent requests share each pass over the weights.

use super::sampling::SamplingParams;
use crate::text::{StopMatcher, StopOutcome, Utf8Decoder};
use crate::LocalError;
use gantry_types::FinishReason;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Tokens decoded in one llama.cpp call; long prompts are fed in chunks of this size so
/// requests that are already generating keep getting tokens while a prompt is read.
const BATCH_TOKENS: usize = 512;

/// One generation request, prepared and validated by the provider.
pub(crate) struct Job {
    pub prompt: Vec<LlamaToken>,
    /// Most tokens to sample (already capped by the context window).
    pub max_new_tokens: u32,
    pub sampling: SamplingParams,
    pub stops: Vec<String>,
    /// Where text and the end of generation go; a closed receiver cancels the job.
    pub events: UnboundedSender<Event>,
}

/// What the worker reports about a job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// More generated text (never empty, always whole characters).
    Text(String),
    /// Generation ended.
    Done { finish_reason: FinishReason, prompt_tokens: u32, completion_tokens: u32 },
    /// The engine failed while serving the job.
    Failed(String),
}

/// Engine sizing, from `LocalChatOptions`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkerConfig {
    pub threads: i32,
    /// Context window of each sequence.
    pub context_size: u32,
    /// Sequences decoded together; further jobs wait in the queue.
    pub max_sequences: u32,
}

/// Starts the worker thread and waits until its context exists.
pub(crate) fn spawn(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    config: WorkerConfig,
) -> Result<Sender<Job>, LocalError> {
    let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    std::thread::Builder::new()
        .name("gantry-llama".to_string())
        .spawn(move || {
            let total = config.context_size.saturating_mul(config.max_sequences);
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(total))
                .with_n_batch(BATCH_TOKENS as u32)
                .with_n_ubatch(BATCH_TOKENS as u32)
                .with_n_seq_max(config.max_sequences)
                // One KV stream per sequence: each request gets its whole window and attention
                // only reads its own cells.
                .with_kv_unified(false)
                .with_n_threads(config.threads)
                .with_n_threads_batch(config.threads);
            let ctx = match model.new_context(backend, params) {
                Ok(ctx) => ctx,
                Err(err) => {
                    let _ = ready_tx.send(Err(format!("could not create a llama.cpp context: {err}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            Worker::new(&model, ctx, config).run(&jobs_rx);
            tracing::debug!("local chat worker stopped");
        })
        .map_err(|e| LocalError::Engine(format!("could not start the generation thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(jobs_tx),
        Ok(Err(reason)) => Err(LocalError::Engine(reason)),
        Err(_) => Err(LocalError::Engine("the generation thread exited during start-up".into())),
    }
}

/// A job being served, bound to one llama.cpp sequence id.
struct Slot {
    seq: i32,
    job: Job,
    sampler: LlamaSampler,
    /// Prompt tokens already decoded.
    fed: usize,
    /// Position of the next token in the sequence.
    pos: i32,
    /// The last sampled token, to decode in the next step.
    next: Option<LlamaToken>,
    /// Index in the current batch whose logits this slot samples from.
    logits_at: Option<i32>,
    generated: u32,
    utf8: Utf8Decoder,
    stop: StopMatcher,
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    free_seqs: Vec<i32>,
    slots: Vec<Slot>,
    batch: LlamaBatch<'static>,
}

impl<'m> Worker<'m> {
    fn new(model: &'m LlamaModel, ctx: LlamaContext<'m>, config: WorkerConfig) -> Self {
        Self {
            model,
            ctx,
            free_seqs: (0..config.max_sequences as i32).rev().collect(),
            slots: Vec::new(),
            batch: LlamaBatch::new(BATCH_TOKENS, 1),
        }
    }

    fn run(mut self, jobs: &Receiver<Job>) {
        loop {
            if self.slots.is_empty() {
                // Idle: sleep until a job arrives; a closed channel means the provider is gone.
                match jobs.recv() {
                    Ok(job) => self.admit(job),
                    Err(_) => return,
                }
            }
            while !self.free_seqs.is_empty() {
                match jobs.try_recv() {
                    Ok(job) => self.admit(job),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            self.drop_cancelled();
            if !self.slots.is_empty() {
                self.step();
            }
        }
    }

    fn admit(&mut self, job: Job) {
        if job.events.is_closed() {
            return;
        }
        let Some(seq) = self.free_seqs.pop() else {
            let _ = job.events.send(Event::Failed("no free sequence slot".into()));
            return;
        };
        let sampler = job.sampling.build(self.model);
        self.slots.push(Slot {
            seq,
            sampler,
            fed: 0,
            pos: 0,
            next: None,
            logits_at: None,
            generated: 0,
            utf8: Utf8Decoder::default(),
            stop: StopMatcher::new(job.stops.clone()),
            job,
        });
    }

    /// Stops work for clients that went away (their receiver was dropped).
    fn drop_cancelled(&mut self) {
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].job.events.is_closed() {
                tracing::debug!(seq = self.slots[i].seq, "generation cancelled by the client");
                self.release(i);
            } else {
                i += 1;
            }
        }
    }

    /// Frees slot `i`'s sequence for the next job.
    fn release(&mut self, i: usize) {
        let slot = self.slots.swap_remove(i);
        let _ = self.ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
        self.free_seqs.push(slot.seq);
    }

    /// One decode over all active slots, then one sampled token for each slot that is ready.
    fn step(&mut self) {
        self.batch.clear();
        let mut room = BATCH_TOKENS;
        for slot in &mut self.slots {
            slot.logits_at = None;
        }
        // Generating slots first: one token each keeps their latency flat.
        for slot in &mut self.slots {
            let Some(token) = slot.next else { continue };
            if room == 0 || self.batch.add(token, slot.pos, &[slot.seq], true).is_err() {
                break;
            }
            slot.next = None;
            slot.logits_at = Some(self.batch.n_tokens() - 1);
            slot.pos += 1;
            room -= 1;
        }
        for slot in &mut self.slots {
            if room == 0 {
                break;
            }
            let remaining = slot.job.prompt.len() - slot.fed;
            if remaining == 0 || slot.logits_at.is_some() {
                continue;
            }
            for _ in 0..remaining.min(room) {
                let token = slot.job.prompt[slot.fed];
                let last = slot.fed + 1 == slot.job.prompt.len();
                if self.batch.add(token, slot.pos, &[slot.seq], last).is_err() {
                    break;
                }
                slot.fed += 1;
                slot.pos += 1;
                room -= 1;
                if last {
                    slot.logits_at = Some(self.batch.n_tokens() - 1);
                }
            }
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(err) = self.ctx.decode(&mut self.batch) {
            tracing::error!(error = %err, "llama.cpp decode failed");
            // The failed batch may have left partial state in any of its sequences.
            while !self.slots.is_empty() {
                let _ = self.slots[0].job.events.send(Event::Failed(format!("decode failed: {err}")));
                self.release(0);
            }
            return;
        }
        let mut finished = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(at) = slot.logits_at else { continue };
            let token = slot.sampler.sample(&self.ctx, at);
            if let Some(reason) = Self::accept(self.model, slot, token) {
                let prompt_tokens = slot.job.prompt.len() as u32;
                let _ = slot.job.events.send(Event::Done {
                    finish_reason: reason,
                    prompt_tokens,
                    completion_tokens: slot.generated,
                });
                finished.push(i);
            }
        }
        // Highest index first so swap_remove does not move a slot still to be released.
        for i in finished.into_iter().rev() {
            self.release(i);
        }
    }

    /// Handles a sampled token; returns why generation ended, if it did.
    fn accept(model: &LlamaModel, slot: &mut Slot, token: LlamaToken) -> Option<FinishReason> {
        slot.generated += 1;
        let end_of_generation = model.vocab().is_eog(token);
        let mut text = if end_of_generation {
            String::new()
        } else {
            // Control tokens render as nothing: they are markup, not text.
            slot.utf8.push(&model.vocab().token_to_piece(token, false, None))
        };
        let out_of_room = slot.generated >= slot.job.max_new_tokens;
        if end_of_generation || out_of_room {
            text.push_str(&slot.utf8.finish());
        }
        match slot.stop.push(&text) {
            StopOutcome::Stopped(before) => {
                send_text(slot, before);
                return Some(FinishReason::Stop);
            }
            StopOutcome::Continue(safe) => send_text(slot, safe),
        }
        if end_of_generation || out_of_room {
            let rest = slot.stop.finish();
            send_text(slot, rest);
            return Some(if end_of_generation { FinishReason::Stop } else { FinishReason::Length });
        }
        slot.next = Some(token);
        None
    }
}

fn send_text(slot: &Slot, text: String) {
    if !text.is_empty() {
        // A failed send means the client left; the next step's cancellation check frees the slot.
        let _ = slot.job.events.send(Event::Text(text));
    }
}
