"""A BERT sentence encoder in plain numpy: all-MiniLM-L6-v2 and other sentence-transformers
models with mean pooling, loaded from a local folder (model.safetensors + tokenizer.json).

Why numpy: recteam must embed without torch and without a hub download, and a 6-layer, 384-wide
BERT is a few matrix products per layer; on short catalog texts it runs at thousands of
sentences per second on two cores.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

__all__ = [
    "ONE_THREAD_ROWS",
    "BertSentenceEncoder",
    "one_blas_thread",
    "one_blas_thread_from_now_on",
]

# A batch of at most this many texts (a query, a message, a few records: what a turn embeds) runs
# its matrix products on one BLAS thread. They are small, and OpenBLAS's default of one thread a
# core makes each product wait for helper threads that a busy machine does not schedule: on two
# cores under load, 3 rows took 0.27-0.89 s with the default threads and 0.08-0.13 s with one.
# Bigger batches (ingest) keep every thread.
ONE_THREAD_ROWS = 16

# threadpoolctl lets one Python thread at a time set OpenBLAS's limit, which is process-wide (a
# call from any other thread does nothing), so the small batches take turns under this lock: each
# is a few milliseconds on one thread.
_blas_lock = threading.RLock()


@functools.cache
def _blas() -> Any:
    """threadpoolctl's view of the thread pools loaded (numpy's OpenBLAS), found once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# Set by one_blas_thread_from_now_on: BLAS runs one thread for the rest of the process.
_one_thread_for_good = False


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs one thread while this is entered, and what it ran before after."""
    if _one_thread_for_good:
        yield  # no limit to set, so no lock to take: concurrent calls run side by side
        return
    with _blas_lock, _blas().limit(limits=1, user_api="blas"):
        yield


def one_blas_thread_from_now_on() -> None:
    """BLAS runs one thread for the rest of the process, every batch; for a server, whose
    parallelism is its many turns at once: under one_blas_thread's lock their embeddings waited
    for one another (a sixth of a busy web server's samples were threads waiting there), each
    using one core while the other idled. A batch no longer takes the lock."""
    global _one_thread_for_good
    with _blas_lock:
        _blas().limit(limits=1, user_api="blas")  # kept: never restored
        _one_thread_for_good = True


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution of the activations,
# so the erf-based GELU of BERT is reproduced without scipy.
_P = np.float32(0.3275911)
_A = [np.float32(c) for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)]


def _gelu_(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU, computed in place: x * (1 + erf(x / sqrt 2)) / 2."""
    z = x * np.float32(0.7071067811865476)
    a = np.abs(z)
    t = np.multiply(a, _P)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _A[4]
    for coeff in (_A[3], _A[2], _A[1], _A[0]):
        poly += coeff
        poly *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # poly = 1 - erf(|z|)
    np.copysign(poly, z, out=poly)  # sign(z) * (1 - erf|z|)
    np.subtract(np.sign(z), poly, out=poly)  # erf(z)
    poly += 1.0
    poly *= 0.5
    x *= poly
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


class BertSentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a BERT checkpoint folder."""

    def __init__(self, model_dir: Path, max_length: int | None = None) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        if config.get("model_type") != "bert":
            raise ValueError(
                f"{model_dir} is not a BERT model (model_type={config.get('model_type')!r})"
            )
        st_config_path = model_dir / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text()) if st_config_path.exists() else {}
        self.max_length = max_length or int(st_config.get("max_seq_length", 256))
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        weights = load_file(str(model_dir / "model.safetensors"))
        # Some checkpoints prefix every tensor with "bert."; float32 tensors are kept, not copied.
        self.w = {
            k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()
        }
        del weights
        # Pre-transpose once: x @ W.T on every call would copy.
        for name in list(self.w):
            if name.endswith(".weight") and self.w[name].ndim == 2 and "embeddings" not in name:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        for i in range(self.layers):
            p = f"encoder.layer.{i}.attention.self."
            # One product for query, key and value; their own copies are dropped.
            for part in ("weight", "bias"):
                self.w[f"{p}qkv.{part}"] = np.concatenate(
                    [self.w.pop(f"{p}{head}.{part}") for head in ("query", "key", "value")],
                    axis=1 if part == "weight" else 0,
                )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeds one batch; texts of similar length batch best (padding costs time)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1.0
        if len(texts) > ONE_THREAD_ROWS:
            return self._forward(ids, mask)
        with one_blas_thread():
            return self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0]
        ).reshape(batch * length, self.dim)  # 2-D from here on: one BLAS call per dense layer
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        head_dim = self.dim // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        additive_mask = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = x @ w[p + "attention.self.qkv.weight"]
            qkv += w[p + "attention.self.qkv.bias"]
            qkv = qkv.reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q = np.ascontiguousarray(qkv[0]) * scale
            kt = np.ascontiguousarray(qkv[1].transpose(0, 1, 3, 2))
            v = np.ascontiguousarray(qkv[2])
            scores = q @ kt
            scores += additive_mask
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dim)
            attn = context @ w[p + "attention.output.dense.weight"]
            attn += w[p + "attention.output.dense.bias"]
            attn += x
            x = _layer_norm(
                attn,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            hidden = x @ w[p + "intermediate.dense.weight"]
            hidden += w[p + "intermediate.dense.bias"]
            out = _gelu_(hidden) @ w[p + "output.dense.weight"]
            out += w[p + "output.dense.bias"]
            out += x
            x = _layer_norm(
                out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        x3 = x.reshape(batch, length, self.dim)
        summed = (x3 * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
