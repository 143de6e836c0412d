"""What a running stage may use: the client, and a way to materialise its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
from distributed import Client, futures_of, progress, wait


@dataclass
class StageContext:
    """Handed to :meth:`Stage.run`. Work submitted through it carries the stage's annotations,
    because the runner calls ``run`` inside ``dask.annotate(**stage_annotations)``."""

    client: Client
    workflow: str
    stage: str
    show_progress: bool

    def persist(self, *collections: Any) -> tuple[Any, ...]:
        """Persist collections on the cluster and wait for them (with a progress bar if enabled)."""
        persisted = self.client.persist(list(collections))
        futures = futures_of(persisted)
        if self.show_progress:
            progress(futures, notebook=False)
            print()
        wait(futures)
        for future in futures:
            if future.status == "error":
                future.result()  # re-raise the task's own exception here, in this stage
        return tuple(persisted)

    def compute(self, *collections: Any) -> tuple[Any, ...]:
        """Compute small results to the client."""
        return dask.compute(*collections, scheduler=self.client)
