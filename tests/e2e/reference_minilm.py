"""An independent reference for the embedded embedding model: BERT written out in numpy from
the same safetensors file and tokenizer, with mean pooling and L2 normalisation as the
sentence-transformers pipeline of all-MiniLM-L6-v2 does. Slow, but obviously correct."""

import json
import math

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


class ReferenceMiniLM:
    def __init__(self, model_dir):
        self.cfg = json.load(open(f"{model_dir}/config.json"))
        self.weights = load_file(f"{model_dir}/model.safetensors")
        self.tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
        self.tok.no_padding()
        self.tok.enable_truncation(256)

    def _w(self, name):
        return self.weights[name] if name in self.weights else self.weights["bert." + name]

    def _layer_norm(self, x, prefix, eps=1e-12):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * self._w(prefix + ".weight") + self._w(prefix + ".bias")

    def _linear(self, x, prefix):
        return x @ self._w(prefix + ".weight").T + self._w(prefix + ".bias")

    def embed(self, sentence):
        ids = np.array(self.tok.encode(sentence).ids)
        n = len(ids)
        x = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[:n]
            + self._w("embeddings.token_type_embeddings.weight")[0]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        heads = self.cfg["num_attention_heads"]
        dim = x.shape[1] // heads
        erf = np.vectorize(math.erf)
        for layer in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(x, p + f"attention.self.{m}").reshape(n, heads, dim).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(dim)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._layer_norm(self._linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            hidden = self._linear(x, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
            x = self._layer_norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)
