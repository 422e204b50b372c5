"""The fast path's batches: batching by index, shifts and batch-wide augmentation, mixup."""

import random

import torch

from ffnn_lab import prepare_cifar2, shift
from ffnn_lab.tensors import augment, augmentation_draws, batches, mixup_batch


def test_batches_cover_everything_once_and_reshuffle():
    data = prepare_cifar2("synthetic").val
    gen = torch.Generator().manual_seed(0)
    first = torch.cat([y for _, y in batches(data, 64, shuffle=True, generator=gen)])
    second = torch.cat([y for _, y in batches(data, 64, shuffle=True, generator=gen)])
    assert len(first) == len(data) and first.sum() == data.y.sum()
    sizes = [len(x) for x, _ in batches(data, 64)]
    assert sizes == [64, 64, 64, 8]
    xs = torch.cat([x for x, _ in batches(data, 64, shuffle=True, generator=gen)])
    assert not torch.equal(xs, data.x) and torch.allclose(xs.sum(), data.x.sum(), rtol=1e-4)
    assert not torch.equal(first, second)


def test_shift_moves_pixels_and_zero_fills():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    right = shift(x, 1, 0)
    assert torch.equal(right[0, 0, :, 1:], x[0, 0, :, :3]) and right[0, 0, :, 0].eq(0).all()
    down_left = shift(x, -2, 1)
    assert torch.equal(down_left[0, 0, 1:, :2], x[0, 0, :3, 2:])
    assert torch.equal(shift(x, 0, 0), x) and shift(x, 4, 0).eq(0).all()


def test_augmentation_draws_only_what_is_switched_on():
    gen = torch.Generator().manual_seed(0)
    draws = augmentation_draws(500, 2, True, gen)
    assert draws.shape == (3, 500) and draws.dtype == torch.long
    assert set(draws[0].tolist()) == set(draws[1].tolist()) == {0, 1, 2, 3, 4} and set(draws[2].tolist()) == {
        0,
        1,
    }
    assert not torch.equal(draws[0], draws[1])  # rows and columns drawn apart
    state = gen.get_state()
    assert augmentation_draws(7, 0, False, gen).eq(0).all() and torch.equal(gen.get_state(), state)
    only_flips = augmentation_draws(500, 0, True, gen)
    assert only_flips[:2].eq(0).all() and only_flips[2].sum() > 0


def test_augment_shifts_and_mirrors_each_image_as_drawn():
    x = torch.randn(32, 3, 8, 8)
    assert torch.equal(augment(x, 0, False), x)
    draws = augmentation_draws(32, 2, True, torch.Generator().manual_seed(1))
    a = augment(x, 2, True, torch.Generator().manual_seed(1))  # the same draws, from the same seed
    for i, (oy, ox, mirror) in enumerate(draws.T.tolist()):
        moved = shift(x[i], 2 - ox, 2 - oy)  # an offset of max_shift is no move
        assert torch.equal(a[i], moved.flip(-1) if mirror else moved)
    assert {tuple(d) for d in draws.T.tolist()} != {(2, 2, 0)}  # some image did move or mirror
    flipped_only = augment(x, 0, True, torch.Generator().manual_seed(2))
    mirrors = augmentation_draws(32, 0, True, torch.Generator().manual_seed(2))[2]
    assert all(
        torch.equal(f, o.flip(-1) if m else o) for f, o, m in zip(flipped_only, x, mirrors, strict=True)
    )


def test_blend_mixes_each_image_with_a_partner_and_returns_its_label():
    x, y = torch.randn(16, 3, 4, 4), torch.arange(16)
    mixed, partner_y, lam = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(0), random.Random(0))
    assert 0 <= lam <= 1 and mixed.shape == x.shape
    partner = partner_y  # labels are 0..15, so the partner's label is its index
    assert sorted(partner.tolist()) == list(range(16))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[partner])
    again = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(0), random.Random(0))
    assert torch.equal(again[0], mixed) and again[2] == lam
    lams = [mixup_batch(x, y, 0.2, None, random.Random(i))[2] for i in range(200)]
    # Beta(0.2, 0.2) piles up near 0 and 1: most blends keep one image dominant
    assert sum(lam < 0.1 or lam > 0.9 for lam in lams) > 100
