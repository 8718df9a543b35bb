import numpy as np
import pytest
import torch

from captum_contrastive.metrics import perturbation_energy, perturbation_energy_share


def make_pair(n: int = 4):
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(n, 3, 10, 10, generator=generator)
    adversarial = clean.clone()
    # 4 perturbed pixels per image (4% of 100), at image-dependent places.
    for i in range(n):
        adversarial[i, :, i, :4] += torch.tensor([0.1, -0.2, 0.05]).view(3, 1)
    return clean, adversarial


def test_perturbation_energy():
    clean = torch.zeros(1, 3, 2, 2)
    adversarial = clean.clone()
    adversarial[0, :, 1, 0] = torch.tensor([1.0, 2.0, 2.0])
    expected = torch.tensor([[[0.0, 0.0], [9.0, 0.0]]], dtype=torch.float64)
    assert torch.equal(perturbation_energy(adversarial, clean), expected)


def test_map_equal_to_the_perturbation_has_share_one():
    clean, adversarial = make_pair()
    maps = (adversarial - clean).abs()
    shares = perturbation_energy_share(maps, adversarial, clean, q=(0.05, 0.1, 0.2))
    np.testing.assert_allclose(shares, 1.0)
    # 2% is 2 of the 4 equally perturbed pixels: half the energy.
    np.testing.assert_allclose(
        perturbation_energy_share(maps, adversarial, clean, 0.02), 0.5, rtol=1e-5
    )


def test_oracle_and_random_references():
    clean, adversarial = make_pair(8)
    oracle = perturbation_energy_share("oracle", adversarial, clean)
    random = perturbation_energy_share("random", adversarial, clean, seed=1)
    np.testing.assert_allclose(oracle, 1.0)
    assert random.shape == (8, 3)
    assert (random < oracle).any()
    assert ((random >= 0) & (random <= 1)).all()
    # A map pointing elsewhere scores 0.
    away = torch.zeros(8, 10, 10)
    away[:, 9, 9] = 1.0
    for i in range(8):
        away[i, i, :4] = -1.0
    np.testing.assert_allclose(
        perturbation_energy_share(away, adversarial, clean, 0.01), 0.0
    )


def test_no_perturbation_gives_nan_and_shards_match():
    clean, adversarial = make_pair(8)
    adversarial[3] = clean[3]
    maps = torch.zeros(8, 3, 10, 10)  # ties only: the shares come from the tie-break
    indices = torch.arange(40, 48)
    full = perturbation_energy_share(maps, adversarial, clean, seed=2, indices=indices)
    assert np.isnan(full[3]).all() and not np.isnan(np.delete(full, 3, axis=0)).any()
    parts = np.concatenate(
        [
            perturbation_energy_share(
                maps[:4], adversarial[:4], clean[:4], seed=2, indices=indices[:4]
            ),
            perturbation_energy_share(
                maps[4:], adversarial[4:], clean[4:], seed=2, indices=indices[4:]
            ),
        ]
    )
    np.testing.assert_array_equal(parts, full)


def test_validation():
    clean, adversarial = make_pair(2)
    with pytest.raises(ValueError):
        perturbation_energy_share("best", adversarial, clean)
    with pytest.raises(ValueError):
        perturbation_energy_share("oracle", adversarial, clean, q=0.0)
    with pytest.raises(ValueError):
        perturbation_energy_share(torch.zeros(2, 5, 5), adversarial, clean)
