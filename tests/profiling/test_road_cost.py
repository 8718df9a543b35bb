import json
from pathlib import Path

import torch
from torch import nn

from captum_contrastive.profiling.road_cost import _calibrate, compare_road_results


def write_records(folder: Path, predictions: dict, aucs: dict) -> Path:
    records = {
        name: {
            order: [
                {"index": index, "auc": aucs[name][order][row], "predictions": preds}
                for row, (index, preds) in enumerate(rows)
            ]
            for order, rows in orders.items()
        }
        for name, orders in predictions.items()
    }
    folder.mkdir()
    (folder / "records.json").write_text(json.dumps({"road": records}))
    return folder


def test_compare_counts_different_predictions_and_the_largest_auc_gap(tmp_path):
    rows = {"morf": [(3, [1, 1, 0]), (5, [2, 2, 2])], "lerf": [(3, [1, 1, 1])]}
    aucs = {"saliency": {"morf": [0.5, 1.0], "lerf": [1.0]}}
    first = write_records(tmp_path / "a", {"saliency": rows}, aucs)
    changed = {"morf": [(3, [1, 0, 0]), (5, [2, 2, 2])], "lerf": [(3, [1, 1, 1])]}
    aucs_changed = {"saliency": {"morf": [0.25, 1.0], "lerf": [1.0]}}
    second = write_records(tmp_path / "b", {"saliency": changed}, aucs_changed)
    found = compare_road_results(first, second)
    assert found["curves"] == 2 and found["predictions"] == 9
    assert found["different_predictions"] == 1
    assert found["differences"] == ["saliency/morf/3/1"]
    assert found["max_auc_difference"] == 0.25
    same = compare_road_results(first, first)
    assert same["different_predictions"] == 0 and same["max_auc_difference"] == 0


def test_calibration_gives_unit_logit_spread_and_batch_norm_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 36, 10)
    )
    inputs = 5 + 3 * torch.randn(6, 3, 8, 8)
    _calibrate(model, inputs)
    assert not model.training
    with torch.no_grad():
        features = model[0](torch.cat([inputs, inputs.flip(-1)]))
        logits = model(inputs)
    torch.testing.assert_close(model[1].running_mean, features.mean(dim=(0, 2, 3)))
    assert abs(float(logits.std()) - 1.0) < 1e-5
    assert torch.equal(model[3].bias, torch.zeros(10))
