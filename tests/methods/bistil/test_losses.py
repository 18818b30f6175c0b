"""BiStil's distillation losses as modules: their properties, and the same numbers as the functions
they replaced (written out below as they were)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from polyglot_kd.methods.bistil import LOSSES
from polyglot_kd.methods.bistil import losses as L
from tests.tiny import bert_encoder, unigram_tokenizer


# ---------------------------------------------------------------- the functions before the modules

def old_hidden_loss(student_states, teacher_states, mask, layer_map):
    m = mask.unsqueeze(-1).to(student_states[0].dtype)
    total = 0.0
    for s, t in layer_map:
        hs = student_states[s]
        total = total + (((hs - teacher_states[t]) ** 2) * m).sum() / (m.sum() * hs.shape[-1])
    return total / len(layer_map)


def old_attention_loss(student_attn, teacher_attn, mask, layer_map, kind="mse"):
    pair_mask = (mask[:, None, :, None] * mask[:, None, None, :]).to(student_attn[0].dtype)
    rows = mask[:, None, :].to(student_attn[0].dtype)
    total = 0.0
    for s, t in layer_map:
        ps, pt = student_attn[s], teacher_attn[t]
        if kind == "kl":
            kl = (pt * (torch.log(pt.clamp_min(1e-9)) - torch.log(ps.clamp_min(1e-9)))) * pair_mask
            total = total + kl.sum() / (rows.sum() * ps.shape[1])
        else:
            total = total + (((ps - pt) ** 2) * pair_mask).sum() / pair_mask.sum().clamp_min(1) / ps.shape[1]
    return total / len(layer_map)


def old_pooled_loss(student_pooled, teacher_pooled, kind="mse"):
    s = F.normalize(student_pooled, dim=-1)
    t = F.normalize(teacher_pooled, dim=-1)
    if kind == "cosine":
        return (1 - (s * t).sum(-1)).mean()
    return ((s - t) ** 2).sum(-1).mean()


def old_contrastive_loss(student_pooled, teacher_pooled, temperature=0.05):
    logits = F.normalize(student_pooled, dim=-1) @ F.normalize(teacher_pooled, dim=-1).T / temperature
    gold = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, gold) + F.cross_entropy(logits.T, gold)) / 2


def old_soft_cross_entropy(student_logits, teacher_logits, temperature=2.0):
    t = F.softmax(teacher_logits / temperature, dim=-1)
    log_s = F.log_softmax(student_logits / temperature, dim=-1)
    return -(t * log_s).sum(-1).mean() * temperature ** 2


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def outputs():
    """Two different tiny encoders on one padded batch: (student output, teacher output, mask)."""
    tok = unigram_tokenizer()
    enc = tok(["the cat sleeps on the sofa", "o gato"], padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"] % 120, enc["attention_mask"]
    torch.manual_seed(0)
    teacher = bert_encoder(vocab_size=120, pad_token_id=1, layers=4, hidden=32)
    student = bert_encoder(vocab_size=120, pad_token_id=1, layers=2, hidden=32)
    flags = dict(output_hidden_states=True, output_attentions=True)
    return student(input_ids=ids, attention_mask=mask, **flags), teacher(input_ids=ids, attention_mask=mask, **flags), mask


def test_every_registered_loss_is_a_module_class():
    assert set(LOSSES) == {"hidden", "attention", "pooled", "contrastive", "soft_ce"}
    for name in LOSSES:
        assert issubclass(LOSSES.get(name), torch.nn.Module), name


def test_the_modules_compute_exactly_what_the_functions_did(outputs):
    s, t, mask = outputs
    hidden_map, attn_map = [(1, 1), (2, 4)], [(0, 0), (1, 3)]
    assert torch.equal(L.HiddenLoss(hidden_map)(s.hidden_states, t.hidden_states, mask),
                       old_hidden_loss(s.hidden_states, t.hidden_states, mask, hidden_map))
    for kind in ("mse", "kl"):
        assert torch.equal(L.AttentionLoss(attn_map, kind)(s.attentions, t.attentions, mask),
                           old_attention_loss(s.attentions, t.attentions, mask, attn_map, kind))
    sp, tp = L.pooled(s, mask), L.pooled(t, mask)
    for kind in ("mse", "cosine"):
        assert torch.equal(L.PooledLoss(kind)(sp, tp), old_pooled_loss(sp, tp, kind))
    assert torch.equal(L.ContrastiveLoss(0.1)(sp, tp), old_contrastive_loss(sp, tp, 0.1))
    torch.manual_seed(1)
    logits_s, logits_t = torch.randn(*mask.shape, 5), torch.randn(*mask.shape, 5)
    keep = mask.bool()
    assert torch.equal(L.SoftCrossEntropy(3.0)(logits_s[keep], logits_t[keep]),
                       old_soft_cross_entropy(logits_s[keep], logits_t[keep], 3.0))
    assert torch.equal(L.SoftCrossEntropy(3.0)(logits_s, logits_t, mask),  # the mask selects the same positions
                       old_soft_cross_entropy(logits_s[keep], logits_t[keep], 3.0))


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="'mse', 'cosine'"):
        L.PooledLoss("l1")
    with pytest.raises(ValueError, match="'mse', 'kl'"):
        L.AttentionLoss([(0, 0)], "cosine")


def test_losses_are_zero_for_identical_outputs_and_ignore_padding(outputs):
    _, out, mask = outputs
    pairs = [(1, 1), (2, 2)]
    hidden, attention = L.HiddenLoss(pairs), L.AttentionLoss([(0, 0)], "kl")
    assert hidden(out.hidden_states, out.hidden_states, mask).item() == 0
    assert attention(out.attentions, out.attentions, mask).abs().item() < 1e-6
    assert L.PooledLoss()(L.pooled(out, mask), L.pooled(out, mask)).item() < 1e-10
    # values at padded positions must not change the losses
    noisy = tuple(h + 5.0 * (1 - mask).unsqueeze(-1) for h in out.hidden_states)
    assert hidden(noisy, out.hidden_states, mask).item() < 1e-10
    noisy_attn = tuple(a + 0.3 * (1 - mask)[:, None, None, :] for a in out.attentions)
    assert L.AttentionLoss([(0, 0)])(noisy_attn, out.attentions, mask).item() < 1e-10
    assert L.HiddenLoss([(1, 2)])(out.hidden_states, out.hidden_states, mask).item() > 0


def test_soft_cross_entropy_is_minimal_at_the_teacher():
    teacher = torch.tensor([[2.0, 0.5, -1.0]])
    soft_ce = L.SoftCrossEntropy(temperature=2.0)
    assert soft_ce(torch.tensor([[0.0, 2.0, 0.0]]), teacher) > soft_ce(teacher.clone(), teacher)


def test_contrastive_loss_prefers_matched_pairs():
    torch.manual_seed(0)
    teacher = torch.randn(6, 16)
    contrastive = L.ContrastiveLoss()
    matched = contrastive(teacher + 0.01 * torch.randn(6, 16), teacher)
    shuffled = contrastive(teacher[torch.tensor([1, 2, 3, 4, 5, 0])], teacher)
    assert matched < 0.05 < shuffled


def test_attention_loss_compares_head_averages_when_the_student_kept_fewer_heads():
    from polyglot_kd.methods.bistil.losses import AttentionLoss

    torch.manual_seed(0)
    teacher = torch.softmax(torch.randn(2, 4, 5, 5), -1)
    mask = torch.ones(2, 5)
    loss = AttentionLoss([(0, 0)])
    same_average = teacher.mean(1, keepdim=True).expand(2, 2, 5, 5)
    assert loss([same_average], [teacher], mask) < 1e-12
    assert loss([torch.softmax(torch.randn(2, 2, 5, 5), -1)], [teacher], mask) > 1e-4
