"""Bring your own table: write it to a chunked Zarr store, then run a workflow on it.

    python examples/own_data.py

Uses scikit-learn's breast-cancer table (shipped with scikit-learn, no download) as the "own" data.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer

import daskcollab as dc


def main() -> None:
    frame = load_breast_cancer(as_frame=True)
    store = dc.write_zarr_dataset("data/breast-cancer.zarr", frame.data, frame.target.to_numpy(),
                                  chunk_rows=64, overwrite=True)
    src = dc.ZarrSource(store, name="cells", split=dc.RowSplit(validation=0.2, test=0.2, seed=1))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 3}, rounds=50)
    logreg = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blend = dc.Blend([xgb, logreg], name="blend")
    workflow = dc.Workflow("breast-cancer", [dc.Evaluate([xgb, logreg, blend], name="evaluate")])
    print(dc.run(workflow).table())


if __name__ == "__main__":
    main()
