"""Pure drift statistics on counts, histograms and samples."""

from driftwarden.stats.correction import adjust_pvalues
from driftwarden.stats.distances import (
    hellinger,
    histogram_distances,
    histogram_distances_many,
    jensenshannon,
    kl_divergence,
    psi,
    total_variation,
)
from driftwarden.stats.inference import (
    chi_square_test,
    cohens_h,
    dkw_bound,
    is_sorted,
    ks_and_wasserstein_sorted,
    ks_test,
    ks_test_sorted,
    two_proportion_test,
    wasserstein,
    wasserstein_sampling_error,
    wasserstein_sorted,
)
from driftwarden.stats.results import TestResult
from driftwarden.stats.verdict import DatasetVerdict, dataset_verdict

__all__ = [
    "DatasetVerdict",
    "TestResult",
    "adjust_pvalues",
    "chi_square_test",
    "cohens_h",
    "dataset_verdict",
    "dkw_bound",
    "hellinger",
    "histogram_distances",
    "histogram_distances_many",
    "is_sorted",
    "jensenshannon",
    "kl_divergence",
    "ks_and_wasserstein_sorted",
    "ks_test",
    "ks_test_sorted",
    "psi",
    "total_variation",
    "two_proportion_test",
    "wasserstein",
    "wasserstein_sampling_error",
    "wasserstein_sorted",
]
