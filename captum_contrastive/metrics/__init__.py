"""Per-image metrics and end-of-run statistics for the paper-reproduction benchmark.

Every metric takes a batch of maps and returns one value per image; aggregates
(means, bootstrap intervals, paired comparisons) are computed from the merged
per-image records only at the end. Random choices come from per-image streams
``(seed, dataset index, purpose)``, so a sharded run gives the same numbers.

It may import the foundation modules, the attribution layer and
:mod:`captum_contrastive.attacks` (for the batch type); never a study or the
pipeline.
"""

from captum_contrastive.metrics.energy import (
    DEFAULT_ENERGY_FRACTIONS,
    perturbation_energy,
    perturbation_energy_share,
)
from captum_contrastive.metrics.localization import (
    mask_area_fraction,
    positive_mass_fraction,
)
from captum_contrastive.metrics.perturbation import (
    DEFAULT_FRACTIONS,
    RecoveryCurve,
    fill_image,
    gaussian_blur,
    perturb_top_pixels,
    recovery_curve,
    trapezoid_auc,
)
from captum_contrastive.metrics.ranking import (
    RANDOM_RANKING_PURPOSE,
    TIE_BREAK_PURPOSE,
    num_selected,
    pixel_ranking,
    random_ranking,
    ranking_mask,
    spatial_map,
    top_fraction_mask,
)
from captum_contrastive.metrics.road import (
    DEFAULT_ROAD_FRACTIONS,
    ROAD_NEIGHBOUR_WEIGHTS,
    ROAD_PURPOSE,
    RoadCurve,
    RoadProfile,
    noisy_linear_imputation,
    record_road_costs,
    road_curve,
    road_curves,
    road_gap,
    road_summary,
)
from captum_contrastive.metrics.similarity import (
    avg_diff,
    binarized_similarity,
    spearman,
    top_iou,
)
from captum_contrastive.metrics.ssim import (
    normalize_unit_range,
    structural_similarity,
)
from captum_contrastive.metrics.stats import (
    bootstrap_ci,
    compare_to_reference,
    holm,
    paired_bootstrap_diff,
)

__all__ = [
    "DEFAULT_ENERGY_FRACTIONS",
    "DEFAULT_FRACTIONS",
    "DEFAULT_ROAD_FRACTIONS",
    "RANDOM_RANKING_PURPOSE",
    "ROAD_NEIGHBOUR_WEIGHTS",
    "ROAD_PURPOSE",
    "TIE_BREAK_PURPOSE",
    "RecoveryCurve",
    "RoadCurve",
    "RoadProfile",
    "avg_diff",
    "binarized_similarity",
    "bootstrap_ci",
    "compare_to_reference",
    "fill_image",
    "gaussian_blur",
    "holm",
    "mask_area_fraction",
    "noisy_linear_imputation",
    "record_road_costs",
    "normalize_unit_range",
    "num_selected",
    "paired_bootstrap_diff",
    "perturb_top_pixels",
    "perturbation_energy",
    "perturbation_energy_share",
    "pixel_ranking",
    "positive_mass_fraction",
    "random_ranking",
    "ranking_mask",
    "recovery_curve",
    "road_curve",
    "road_curves",
    "road_gap",
    "road_summary",
    "spatial_map",
    "spearman",
    "structural_similarity",
    "top_fraction_mask",
    "top_iou",
    "trapezoid_auc",
]
