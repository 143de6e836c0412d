"""scikit-learn's conformance suite on every blender (NumPy input).

Classification blenders read multiclass ``X`` as ``n_models * n_classes`` columns (each base
model's class probabilities, model-major). Ten generic checks fit 3- or 4-class labels on 2,
4 or 10 feature columns, which is no such matrix, so the blender raises a ``DataError`` saying
so. Those checks cannot apply; they are declared below as expected failures (strict: if one
starts to pass, the list must shrink). Every other check, including all of them for the
regression blenders, runs and passes.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from daskcollab.ensemble import EnsembleSelection, Stacking, Voting, WeightedAverage

LAYOUT = (
    "fits 3/4-class labels on a column count that is not n_models * n_classes; a classification "
    "blender needs each base model's class probabilities side by side and raises DataError"
)
MULTICLASS_LAYOUT_CHECKS = {
    name: LAYOUT
    for name in [
        "check_estimators_overwrite_params",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_dtype_object",
        "check_classifiers_classes",
        "check_classifiers_train",
        "check_classifiers_train(readonly_memmap=True)",
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
    ]
}


def expected_failed_checks(estimator) -> dict[str, str]:
    is_classifier = getattr(estimator, "task", "classification") == "classification"
    return MULTICLASS_LAYOUT_CHECKS if is_classifier else {}


@parametrize_with_checks(
    [
        WeightedAverage(),
        WeightedAverage(task="regression"),
        Voting(),
        Voting(voting="hard"),
        Stacking(),
        Stacking(task="regression"),
        EnsembleSelection(),
        EnsembleSelection(task="regression", n_bags=5),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


class _BinaryTags:
    """Mixin: tag a blender binary-only so the generic checks feed it 0/1 labels."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class BinaryWeightedAverage(_BinaryTags, WeightedAverage):
    pass


class BinaryVoting(_BinaryTags, Voting):
    pass


class BinaryStacking(_BinaryTags, Stacking):
    pass


class BinaryEnsembleSelection(_BinaryTags, EnsembleSelection):
    pass


@pytest.mark.parametrize(
    "blender", [BinaryWeightedAverage(), BinaryVoting(), BinaryVoting(voting="hard"), BinaryStacking(),
                BinaryEnsembleSelection()], ids=repr
)
def test_layout_checks_pass_on_binary_labels(blender):
    """The checks declared above as expected failures pass once their labels are binary."""
    results = check_estimator(blender, on_fail=None, on_skip=None)
    layout = {name.split("(")[0] for name in MULTICLASS_LAYOUT_CHECKS}
    assert layout <= {r["check_name"] for r in results}
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    # The only other failure: the blenders do support multiclass, against their binary-only tag.
    assert failed and all(name == "check_classifier_not_supporting_multiclass" for name, _ in failed)
