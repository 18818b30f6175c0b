"""Sparse fine-tunings: apply / revert / compose exactly, files, and LT-SFT's guarantees on a tiny model."""

from __future__ import annotations

import random

import pytest
import torch

from polyglot_kd.config import FinetuneConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.methods.sft import FINETUNE_METHODS
from polyglot_kd.methods.sft.fit import FitSetup, split_params
from polyglot_kd.methods.sft.lt_sft import top_k_masks
from polyglot_kd.methods.sft.sparse import SparseDiff
from tests.tiny import bert_encoder


def _body(seed=0):
    torch.manual_seed(seed)
    model = bert_encoder(vocab_size=50, pad_token_id=1)
    with torch.no_grad():  # multiples of 2^-8 in [-4, 4]: every sum below is exact in float32
        for p in model.parameters():
            p.copy_(torch.randint(-1024, 1024, p.shape) / 256)
    return model


def _state(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _random_sft(model, share, seed):
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    masks = {n: torch.rand(p.shape, generator=g) < share for n, p in params.items() if p.dim() == 2}
    tuned = {n: params[n].detach() + torch.randint(-64, 64, params[n].shape, generator=g) / 256 for n in masks}
    return SparseDiff.from_masks(tuned, {n: params[n].detach() for n in masks}, masks), masks, tuned


def test_apply_then_revert_restores_every_weight_exactly():
    model = _body()
    before = _state(model)
    sft, masks, tuned = _random_sft(model, 0.1, 1)
    sft.apply(model)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.equal(params[name][mask], tuned[name][mask])
        assert torch.equal(params[name][~mask], before[name][~mask])
    sft.revert(model)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_applied_context_restores_bit_for_bit_even_when_subtraction_would_not():
    model = _body()
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[0, 0] = 1e-9
    before = _state(model)
    name = "embeddings.word_embeddings.weight"
    mask = torch.zeros_like(before[name], dtype=torch.bool)
    mask[0, 0] = True
    sft = SparseDiff.from_masks({name: before[name] + 1.0}, {name: before[name]}, {name: mask})
    with sft.applied(model):
        assert float(model.embeddings.word_embeddings.weight[0, 0].detach()) == pytest.approx(1.0, abs=1e-6)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    sft.apply(model)
    sft.revert(model)  # (1e-9 + 1) - 1 is 0 in float32: why `applied` keeps the old values
    assert float(model.embeddings.word_embeddings.weight[0, 0].detach()) != 1e-9


def test_language_and_task_sfts_compose_by_addition():
    model = _body()
    base = _state(model)
    lang, _, _ = _random_sft(model, 0.2, 2)
    task, _, _ = _random_sft(model, 0.2, 3)  # overlaps the language SFT in about 4% of positions
    lang.apply(model)
    task.apply(model)
    one_by_one = _state(model)
    for name, p in one_by_one.items():  # the composed model is base + lang + task, entry by entry
        expected = base[name].clone().view(-1)
        for sft in (lang, task):
            if name in sft.entries:
                idx, val = sft.entries[name]
                expected.index_add_(0, idx.long(), val)
        assert torch.equal(p.view(-1), expected)
    task.revert(model)  # back to base + lang exactly
    lang_only = _state(model)
    lang.revert(model)
    assert all(torch.equal(p, base[n]) for n, p in model.named_parameters())
    (lang + task).apply(model)  # one merged SFT equals applying both
    assert all(torch.equal(p, one_by_one[n]) for n, p in model.named_parameters())
    task.revert(model)
    assert all(torch.equal(p, lang_only[n]) for n, p in model.named_parameters())
    merged = lang + task
    assert merged.num_values < lang.num_values + task.num_values  # shared positions stored once


def test_save_load_round_trip_and_wrong_model(tmp_path):
    model = _body()
    sft, _, _ = _random_sft(model, 0.05, 4)
    path = sft.save(tmp_path / "sft.safetensors", {"seed": 1})
    loaded = SparseDiff.load(path)
    assert loaded.shapes == sft.shapes and loaded.num_values == sft.num_values
    for name, (idx, val) in sft.entries.items():
        assert torch.equal(loaded.entries[name][0], idx) and torch.equal(loaded.entries[name][1], val)
        assert idx.dtype == torch.int32
    other = bert_encoder(vocab_size=60, pad_token_id=1)
    with pytest.raises(PolyglotError, match="another vocabulary"):
        loaded.apply(other)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(Exception):
        SparseDiff.load(tmp_path / "bad.safetensors")


def test_top_k_masks_select_exactly_k_largest():
    moved = {"a": torch.tensor([[0.1, -5.0], [0.0, 0.3]]), "b": torch.tensor([2.0, -0.2, 0.05])}
    masks = top_k_masks(moved, 3)
    assert sum(int(m.sum()) for m in masks.values()) == 3
    assert masks["a"].tolist() == [[False, True], [False, True]] and masks["b"].tolist() == [True, False, False]


def _tiny_tagging_setup(model, method_options, tmp_path, seed=0):
    """A learnable toy task: the label of a token is its id modulo 3."""
    rng = random.Random(seed)
    data = [[rng.randrange(5, 50) for _ in range(rng.randrange(3, 9))] for _ in range(48)]

    def batches(r):
        order = list(range(len(data)))
        r.shuffle(order)
        out = []
        for i in range(0, len(order), 8):
            rows = [data[j] for j in order[i:i + 8]]
            width = max(map(len, rows))
            ids = torch.tensor([row + [1] * (width - len(row)) for row in rows])
            labels = torch.tensor([[t % 3 for t in row] + [-100] * (width - len(row)) for row in rows])
            out.append({"input_ids": ids, "attention_mask": (ids != 1).long(), "labels": labels})
        return out

    def dev(m):
        b = batches(random.Random(0))
        with torch.no_grad():
            right = total = 0
            for batch in b:
                pred = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.argmax(-1)
                keep = batch["labels"] != -100
                right += int((pred[keep] == batch["labels"][keep]).sum())
                total += int(keep.sum())
        return right / total

    return FitSetup(method_options, batches, dev, True, torch.device("cpu"), seed, frozenset({"classifier.weight", "classifier.bias"}),
                    model_dir=tmp_path / "model", out_dir=tmp_path / "out")


def _tiny_tagger(seed=0):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=1, num_labels=3)
    return BertForTokenClassification(config)


def test_lt_sft_changes_only_masked_entries_and_stores_what_it_evaluates(tmp_path):
    model = _tiny_tagger()
    body, _ = split_params(model, frozenset({"classifier.weight", "classifier.bias"}))
    theta0 = {n: p.detach().clone() for n, p in body.items()}
    options = FinetuneConfig(dense_epochs=3, sparse_epochs=4, density=0.1, learning_rate=3e-3, evals_per_epoch=1)
    setup = _tiny_tagging_setup(model, options, tmp_path)
    fitted = FINETUNE_METHODS.get("lt-sft")(model, setup)
    trainable = sum(p.numel() for n, p in body.items() if n != "embeddings.word_embeddings.weight")
    sft = SparseDiff.load(tmp_path / "out" / "sft.safetensors")
    assert sft.num_values == round(0.1 * trainable)
    assert "embeddings.word_embeddings.weight" not in sft.entries  # frozen by default
    rebuilt = _tiny_tagger()
    with torch.no_grad():
        for n, p in rebuilt.base_model.named_parameters():
            p.copy_(theta0[n])
    sft.apply(rebuilt.base_model)
    for n, p in model.base_model.named_parameters():  # theta_0 + stored SFT == the evaluated model
        assert torch.equal(p, dict(rebuilt.base_model.named_parameters())[n])
    changed = sum(int((p != theta0[n]).sum()) for n, p in model.base_model.named_parameters())
    assert 0 < changed <= sft.num_values
    assert fitted.stored_params == sft.num_values + 32 * 3 + 3
    assert setup.dev(model) > 0.5  # it learned the toy task (chance is 1/3)


def test_lt_sft_composes_with_language_sfts(tmp_path):
    model = _tiny_tagger()
    names = [n for n, _ in model.base_model.named_parameters()]
    for lang, seed in (("en", 5), ("tr", 6)):  # language SFTs shipped beside the model
        g = torch.Generator().manual_seed(seed)
        masks = {n: torch.rand(p.shape, generator=g) < 0.05 for n, p in model.base_model.named_parameters()}
        base = {n: p.detach() for n, p in model.base_model.named_parameters()}
        tuned = {n: base[n] + 0.01 for n in names}
        SparseDiff.from_masks(tuned, base, masks).save(tmp_path / "model" / "language-sft" / lang / "sft.safetensors")
    original = {n: p.detach().clone() for n, p in model.base_model.named_parameters()}
    options = FinetuneConfig(dense_epochs=1, sparse_epochs=1, density=0.1, learning_rate=1e-3)
    setup = _tiny_tagging_setup(model, options, tmp_path)
    setup.test_languages = ("tr",)
    fitted = FINETUNE_METHODS.get("lt-sft")(model, setup)
    assert fitted.composition == "language SFT + task SFT"
    task = SparseDiff.load(tmp_path / "out" / "sft.safetensors")
    en = SparseDiff.load(tmp_path / "model" / "language-sft" / "en" / "sft.safetensors")
    tr = SparseDiff.load(tmp_path / "model" / "language-sft" / "tr" / "sft.safetensors")
    fitted.use_language("tr")
    expected = _tiny_tagger()
    with torch.no_grad():
        for n, p in expected.base_model.named_parameters():
            p.copy_(original[n])
    (tr + task).apply(expected.base_model)
    got = dict(model.base_model.named_parameters())
    for n, p in expected.base_model.named_parameters():
        assert torch.allclose(got[n], p, atol=1e-6)
    assert not torch.allclose(got[names[5]], (original[names[5]]))  # the Turkish SFT is in


def test_adapters_train_only_adapter_and_head(tmp_path):
    model = _tiny_tagger()
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("classifier")}
    options = FinetuneConfig(epochs=3, adapter_learning_rate=1e-2, adapter_reduction_factor=4)
    fitted = FINETUNE_METHODS.get("adapters")(model, _tiny_tagging_setup(model, options, tmp_path))
    after = dict(model.named_parameters())
    assert all(torch.equal(after[n], p) for n, p in before.items())
    assert fitted.composition == "task adapter only"
    assert 0 < fitted.stored_params == fitted.trained_params < 0.2 * fitted.total_params
    assert (tmp_path / "out" / "task-adapter" / "adapter_config.json").is_file()


def test_madx_stacks_language_and_task_adapters(tmp_path):
    import adapters

    donor = _tiny_tagger()
    adapters.init(donor)
    for lang in ("en", "tr"):
        donor.add_adapter(f"lang_{lang}", config="seq_bn_inv")
        (tmp_path / "model" / "language-adapters").mkdir(parents=True, exist_ok=True)
        donor.save_adapter(str(tmp_path / "model" / "language-adapters" / lang), f"lang_{lang}", with_head=False)
    model = _tiny_tagger()
    options = FinetuneConfig(epochs=1, adapter_learning_rate=1e-2, adapter_reduction_factor=4)
    setup = _tiny_tagging_setup(model, options, tmp_path)
    setup.test_languages = ("tr",)
    fitted = FINETUNE_METHODS.get("adapters")(model, setup)
    assert fitted.composition == "Stack(language, task)"
    assert str(model.active_adapters) == "Stack[lang_en, task]"
    fitted.use_language("tr")
    assert str(model.active_adapters) == "Stack[lang_tr, task]"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any("lang_" in n for n in trainable)  # language adapters stay fixed


def test_unknown_method_lists_known():
    with pytest.raises(PolyglotError, match="unknown training method 'lora'.*full, lt-sft, adapters"):
        FINETUNE_METHODS.get("lora")
