import torch

from captum_contrastive.attacks.batch import AdversarialBatch
from captum_contrastive.pipeline.cache import StageKey
from captum_contrastive.pipeline.run_data import MapRequest, RunData
from captum_contrastive.pipeline.stages import AttackedImages, Selection


def _batch(n: int) -> AdversarialBatch:
    images = torch.rand(n, 3, 4, 4)
    classes = torch.arange(n)
    return AdversarialBatch(
        attack="fgsm",
        clean=images,
        adversarial=images + 0.1,
        labels=classes,
        clean_predictions=classes,
        adversarial_predictions=classes + 1,
        success=classes % 2 == 0,
        l2=torch.ones(n),
        linf=torch.ones(n),
        indices=torch.arange(10, 10 + n),
    )


def test_cut_keeps_the_keys_and_cuts_every_per_image_row():
    n = 5
    request = MapRequest("saliency", "adversarial", "fgsm")
    key = StageKey("maps", {"x": 1})
    data = RunData(
        config=None,
        context=None,
        selection=Selection(list(range(10, 15)), StageKey("selection")),
        specs={},
        images=torch.arange(n).float().view(n, 1, 1, 1),
        labels=torch.arange(n),
        masks=None,
        attacks={"fgsm": AttackedImages(_batch(n), StageKey("attack"))},
        maps={request: torch.arange(n).float().view(n, 1, 1, 1) * 2},
        map_keys={request: key},
        predict=len,
        clean_runner_up=torch.arange(n) + 100,
        noise={"fgsm": torch.arange(n).float() + 0.5},
        noise_predictions={"fgsm": torch.arange(n) + 200},
        bim_calibration={"epsilon": 0.1},
    )
    shard = data.cut([13, 11])
    assert shard.selection.indices == [13, 11]
    assert shard.selection.key == data.selection.key
    assert shard.labels.tolist() == [3, 1]
    assert shard.images.flatten().tolist() == [3.0, 1.0]
    assert shard.maps[request].flatten().tolist() == [6.0, 2.0]
    assert shard.map_keys[request] is key
    assert shard.attacks["fgsm"].batch.indices.tolist() == [13, 11]
    assert shard.attacks["fgsm"].key == data.attacks["fgsm"].key
    assert shard.clean_runner_up.tolist() == [103, 101]
    assert shard.noise["fgsm"].tolist() == [3.5, 1.5]
    assert shard.noise_predictions["fgsm"].tolist() == [203, 201]
    assert shard.predict is len and shard.bim_calibration == {"epsilon": 0.1}
    assert len(data.labels) == n, "the original is left whole"
