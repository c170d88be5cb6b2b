#!/usr/bin/env python3
"""Prompt and generation speed of SmolLM2-135M Q4_1 with llama-cpp-python, measured the same
way as `cargo bench -p gantry-local --bench local_generation` so the two can be compared.

Usage: python3 scripts/bench_llama_cpp_python.py [MODEL.gguf]
(default: $GANTRY_TEST_MODELS_DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf).
Needs `pip install llama-cpp-python` (it builds llama.cpp from source).
"""
import os
import resource
import statistics
import sys
import time

from llama_cpp import Llama

# Same text as PROMPT in crates/gantry-local/benches/local_generation.rs.
PROMPT = (
    "Here are some notes about running language models on small computers. "
    "A model is a long list of numbers, called weights, that turns a sequence of tokens into a guess "
    "about the next token. Small models such as SmolLM2 have about one hundred million weights and "
    "fit in the memory of a laptop, a phone or a single board computer. Quantisation stores each "
    "weight in four or five bits instead of sixteen, which makes the file smaller and the model "
    "faster, because reading weights from memory is the slowest part of generating text. Reading "
    "the prompt is different: all prompt tokens are processed together, so the processor can use "
    "wide vector instructions and the speed is limited by arithmetic rather than memory. That is "
    "why prompt speed is usually several times higher than generation speed. Threads help both, "
    "up to the number of physical cores. Please write a long, detailed essay that explains these "
    "ideas to a beginner, with examples, in at least ten paragraphs. Keep the language simple and "
    "friendly, and explain every technical word the first time it appears."
)
RUNS = 3
GENERATED = 128


def model_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    base = os.environ.get("GANTRY_TEST_MODELS_DIR")
    if not base:
        sys.exit("pass the .gguf path or set GANTRY_TEST_MODELS_DIR")
    return os.path.join(base, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    llm = Llama(model_path=model_path(), n_threads=2, n_threads_batch=2, n_ctx=1024, n_batch=512, verbose=False)
    messages = [{"role": "user", "content": PROMPT}]

    def run(max_tokens, stream=False):
        # Forget the previous prompt: llama-cpp-python would otherwise reuse its KV cache.
        llm.reset()
        return llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=stream)

    run(4)  # warm-up
    prompt_rates, gen_rates = [], []
    prompt_tokens = generated = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        one = run(1)
        prefill = time.perf_counter() - start
        prompt_tokens = one["usage"]["prompt_tokens"]
        prompt_rates.append(prompt_tokens / prefill)

        first = None
        pieces = 0
        for chunk in run(GENERATED, stream=True):
            delta = chunk["choices"][0]["delta"] if chunk["choices"] else {}
            if delta.get("content"):
                pieces += 1
                if first is None:
                    first = time.perf_counter()
        end = time.perf_counter()
        # Streamed pieces are tokens here (llama-cpp-python emits one per token).
        generated = pieces
        gen_rates.append(max(pieces - 1, 0) / (end - (first or end)) if first else 0.0)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine: llama-cpp-python {__import__('llama_cpp').__version__}, 2 threads, median of {RUNS}")
    print(f"prompt:     {prompt_tokens} tokens, {statistics.median(prompt_rates):.1f} tokens/s")
    print(f"generation: ~{generated} tokens, {statistics.median(gen_rates):.1f} tokens/s")
    print(f"peak RSS:   {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
