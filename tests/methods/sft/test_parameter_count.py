"""The one parameter counter (`polyglot_kd.core.loading.parameter_count`), as the methods' shares use it."""

from __future__ import annotations

import torch

from polyglot_kd.core.loading import parameter_count


def test_modules_and_iterables_count_elements_and_tied_weights_once():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10))
    assert parameter_count(model) == 10 * 4 + 4 * 10 + 10
    model[1].weight = model[0].weight  # tied: one parameter used twice
    assert parameter_count(model) == 10 * 4 + 10
    assert parameter_count([model[0].weight, model[1].weight, model[1].bias]) == 10 * 4 + 10
    assert parameter_count(p for p in model.parameters() if p.dim() == 1) == 10  # a generator, as the methods pass
    assert parameter_count(torch.zeros(3) for _ in range(4)) == 12  # distinct tensors all count
    assert parameter_count([]) == 0
