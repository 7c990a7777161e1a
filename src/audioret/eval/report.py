"""`audioret report`: the paper's Tables 1-4 from run folders.

Runs are grouped by recipe name with a trailing seed suffix removed (`table1-A-passt-roberta-s1` is a
seed of `table1-A-passt-roberta`); each group is reported as mean ± std of mAP@10 over its seeds, one
column per evaluation manifest. The table a row belongs to comes from its name (`table1-`, `table2-`,
`table3-`); Table 4 is the ensemble of every given run, with and without query augmentation when
paraphrases are given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audioret.config import RecipeConfig, run_config
from audioret.eval.evaluator import ENSEMBLE, MEMBER, evaluate
from audioret.eval.paraphrases import Paraphrases
from audioret.utils.errors import MissingFileError

SEED_SUFFIX = re.compile(r"-s\d+$")
TABLE_TITLES = {"table1": "Table 1: audio and text encoders", "table2": "Table 2: training datasets",
                "table3": "Table 3: training augmentation", "other": "Other runs"}


@dataclass
class Group:
    name: str
    config: RecipeConfig
    runs: list[Path] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)  # manifest -> mAP@10 per seed

    @property
    def table(self) -> str:
        prefix = self.name.split("-", 1)[0]
        return prefix if prefix in TABLE_TITLES else "other"

    def describe(self) -> list[str]:
        """The columns that say what distinguishes this row in its table."""
        model, train = self.config.model, self.config.train
        if self.table == "table1":
            return [self.name.split("-")[1], model.audio["name"], model.text["name"]]
        if self.table == "table2":
            return [" & ".join(Path(e.manifest).stem for e in self.config.data.train)]
        if self.table == "table3":
            return ["yes" if train.mixco else "-", "yes" if train.text_mask_prob > 0 else "-"]
        return [self.name]


HEADERS = {"table1": ["ID", "audio encoder", "text encoder"], "table2": ["training datasets"],
           "table3": ["Mixco", "text token masking"], "other": ["run"]}


def group_runs(run_dirs: Sequence[str | Path]) -> list[Group]:
    groups: dict[str, Group] = {}
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "model").is_dir():
            raise MissingFileError(run_dir / "model", "averaged model", "run `audioret average RUN_DIR` first")
        config = run_config(run_dir)
        name = SEED_SUFFIX.sub("", config.name)
        groups.setdefault(name, Group(name, config)).runs.append(run_dir)
    return list(groups.values())


def build_report(run_dirs: Sequence[str | Path], manifests: Sequence[str | Path],
                 paraphrases: Paraphrases | None = None, n_paraphrases: int = 5,
                 cache_root: str | Path | None = None) -> tuple[list[Group], dict[str, dict[str, float]]]:
    """Score every run on every manifest; returns the groups and the Table 4 ensembles per manifest."""
    groups = group_runs(run_dirs)
    ensembles: dict[str, dict[str, float]] = {}
    model_groups = {str(run / "model"): group for group in groups for run in group.runs}
    models = [run / "model" for group in groups for run in group.runs]
    for manifest in manifests:
        rows = evaluate(manifest, models, paraphrases, n_paraphrases, "both" if paraphrases else "without",
                        cache_root=cache_root)
        for row in rows:
            if row.kind == MEMBER and row.paraphrases == 0:  # a run's own figure is without augmentation
                model_groups[row.path].scores.setdefault(str(manifest), []).append(row.metrics["mAP@10"])
            elif row.kind == ENSEMBLE:
                ensembles[str(manifest)] = row.metrics
    return groups, ensembles


def format_cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * float(np.mean(values))
    return f"{mean:.2f} ± {100 * float(np.std(values)):.2f}" if len(values) > 1 else f"{mean:.2f}"
