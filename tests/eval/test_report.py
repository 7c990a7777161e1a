"""`audioret report`: seeds grouped into mean ± std, rows placed in the paper's table layouts."""

from __future__ import annotations

import shutil

import yaml

from audioret.cli import main
from audioret.config import DataConfig, DatasetEntry, RecipeConfig, TrainConfig, to_dict
from audioret.eval.evaluator import evaluate
from audioret.eval.report import build_report, format_cell


def fake_run(root, name, model, mixco, mask):
    run = root / name
    (run / "model").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model, run / "model")
    config = RecipeConfig(name=name, data=DataConfig(train=[DatasetEntry("data/clotho/clotho_development.jsonl")]),
                          train=TrainConfig(mixco=mixco, text_mask_prob=mask))
    (run / "config.yaml").write_text(yaml.safe_dump(to_dict(config)))
    return run


def test_seeds_are_grouped_and_tables_laid_out(corpus, models, tmp_path, capsys):
    runs = [fake_run(tmp_path, "table3-both-s0", models[0], True, 0.15),
            fake_run(tmp_path, "table3-both-s1", models[1], True, 0.15),
            fake_run(tmp_path, "table3-none", models[0], False, 0.0)]
    groups, ensembles = build_report(runs, [corpus], cache_root=tmp_path / "cache")
    assert [(g.name, len(g.runs)) for g in groups] == [("table3-both", 2), ("table3-none", 1)]
    individual = [r.metrics["mAP@10"] for r in evaluate(corpus, models, cache_root=tmp_path / "cache")[:2]]
    assert groups[0].scores[str(corpus)] == individual
    assert groups[0].describe() == ["yes", "yes"] and groups[1].describe() == ["-", "-"]
    assert "ensemble" not in ensembles or 0 <= ensembles[str(corpus)]["mAP@10"] <= 1
    assert format_cell([0.5, 0.3]) == "40.00 ± 10.00" and format_cell([0.25]) == "25.00"

    assert main(["report", *map(str, runs), "--manifest", str(corpus), "--cache", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    assert "Table 3: training augmentation" in printed and "Table 4: ensembles" in printed
    assert format_cell(individual) in printed
