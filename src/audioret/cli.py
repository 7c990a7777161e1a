"""The `audioret` command line: argument parsing and printing only; the work lives in the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from audioret.utils.errors import AudioretError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Language-based audio retrieval: prepare data, train, evaluate, index and search.")
console = Console(soft_wrap=True)  # paths stay on one line, copy-pasteable
err_console = Console(stderr=True, soft_wrap=True)

MAX_LISTED = 10


@app.command()
def prepare(
    name: Annotated[str, typer.Argument(
        help="clotho, clotho-gpt, audiocaps, wavcaps, macs, auto-acd, folder, synth, sfx")],
    src: Annotated[Path, typer.Argument(help="the dataset as published (for synth: where audio is written)")],
    out: Annotated[Path, typer.Argument(help="folder that receives NAME_SPLIT.jsonl")],
    variations: Annotated[Path | None, typer.Option(help="clotho-gpt: variations.json if not in SRC")] = None,
    exclude: Annotated[Path | None, typer.Option(
        help="wavcaps: FreeSound ids to leave out (DCASE sound_id list, aac-datasets blacklist_clotho*.csv)")] = None,
    captions: Annotated[Path | None, typer.Option(help="folder: CSV (path, caption); sfx: stem table")] = None,
    split: Annotated[str | None, typer.Option(help="folder: split name written (default: all)")] = None,
    size: Annotated[int | None, typer.Option(help="synth: number of train clips (val/eval get a fifth each)")] = None,
    seed: Annotated[int | None, typer.Option(help="synth: corpus seed")] = None,
    workers: Annotated[int | None, typer.Option(help="threads that read audio headers")] = None,
) -> None:
    """Write manifests OUT/NAME_SPLIT.jsonl for a dataset laid out as its publishers distribute it."""
    from audioret.data.recipes import prepare as run_recipe

    report = run_recipe(name, src, out, variations=variations, exclude=exclude, captions=captions, split=split,
                        size=size, seed=seed, workers=workers)
    table = Table("split", "clips", "manifest", title=f"{name}: {report.n_records} clips")
    for split_name, (path, count) in report.manifests.items():
        table.add_row(split_name, str(count), str(path))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    _print_left_out("missing audio", report.missing, report.problems_file)
    _print_left_out("unreadable audio (skipped)", [f"{p}: {r}" for p, r in report.unreadable], report.problems_file)
    _print_left_out("audio not of the published length (skipped)", [f"{p}: {r}" for p, r in report.mismatched],
                    report.problems_file)
    _print_left_out("clips copying a clip of a held-out split (left out)", [f"{p}: {r}" for p, r in report.duplicates],
                    report.problems_file)


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="a recipe YAML, e.g. recipes/cpu-synth.yaml")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a recipe key: train.lr=3e-4")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="ignore RUN_DIR/checkpoints/last.ckpt, start over")] = False,
) -> None:
    """Train a model; a killed run resumes from its last checkpoint when started again."""
    from audioret.config import load_recipe
    from audioret.train.run import train as run_training

    config = load_recipe(recipe, set_ or [])
    console.print(f"run folder: {config.run_dir}")
    folder = run_training(config, resume=not fresh)
    if folder is not None:  # rank 0 of a multi-process run, or a single-process run
        console.print(f"averaged model: {folder}")


@app.command()
def average(
    run_dir: Annotated[Path, typer.Argument(help="a folder created by `audioret train`")],
    top: Annotated[int, typer.Option(help="how many of the best checkpoints to average")] = 10,
    out: Annotated[Path | None, typer.Option(help="model folder to write (default RUN_DIR/model)")] = None,
) -> None:
    """Average the weights of a run's best validated checkpoints into one model folder."""
    from audioret.config import run_config
    from audioret.train.averaging import average_run

    folder, ranked = average_run(run_dir, run_config(run_dir), top, out)
    table = Table("val mAP@10", "checkpoint", title=f"averaged {len(ranked)} checkpoints into {folder}")
    for score, path in ranked:
        table.add_row(f"{score:.4f}", path.name)
    console.print(table)


@app.command(name="eval")
def evaluate_command(
    manifest: Annotated[Path, typer.Option(help="the clips and captions to evaluate on (JSONL manifest)")],
    model: Annotated[list[Path], typer.Option(help="model folder; repeat for several (ensemble)")],
    paraphrases: Annotated[Path | None, typer.Option(help="JSON {query: [..]} or ClothoV2-GPT variations")] = None,
    n_paraphrases: Annotated[int, typer.Option(help="paraphrases averaged per query")] = 5,
    augment: Annotated[str, typer.Option(help="query augmentation: without, with, both")] = "without",
    paraphraser: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint that writes paraphrases")] = None,
    paraphraser_model: Annotated[str, typer.Option(help="model name sent to the endpoint")] = "gpt-3.5-turbo",
    seeds: Annotated[bool, typer.Option(help="the models are seeds of one configuration: add mean +- std")] = False,
    cache: Annotated[Path | None, typer.Option(help="embedding cache folder (default ~/.cache/audioret)")] = None,
    relevance: Annotated[Path | None, typer.Option(
        help="DCASE 2025 judgments (metadata_eval.csv: query,audio_filenames): adds mAP@10_dcase2025")] = None,
    submission: Annotated[Path | None, typer.Option(
        help="write the ranking CSV (caption,fname_1..fname_10) of the ensemble, or of the only model")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """mAP@10 (DCASE 2022-24) with its jackknife 95% interval, R@1/5/10, mAP@10 over caption groups and, with
    --relevance, DCASE 2025's mAP@10, for models and ensembles."""
    import json
    import os

    from audioret.eval.evaluator import evaluate
    from audioret.eval.paraphrases import Paraphrases, complete_paraphrases

    table = Paraphrases.load(paraphrases) if paraphrases and paraphrases.is_file() else Paraphrases()
    if paraphraser:
        from audioret.data.manifest import read_manifest

        cache_file = paraphrases or manifest.with_suffix(".paraphrases.json")
        queries = [c for r in read_manifest(manifest) for c in r.captions]
        table = complete_paraphrases(table, queries, n_paraphrases, paraphraser, paraphraser_model, cache_file,
                                     os.environ.get("OPENAI_API_KEY"))
        console.print(f"paraphrases cached in {cache_file}")
    rows = evaluate(manifest, model, table if len(table) else None, n_paraphrases, augment, seeds, cache, relevance)
    if submission is not None:
        from audioret.data.manifest import read_manifest
        from audioret.eval.evaluator import CAPTIONS, clip_names, evaluation_targets, submission_row
        from audioret.eval.submission import write_submission

        records = list(read_manifest(manifest))
        chosen = submission_row(rows)
        write_submission(submission, chosen.scores[CAPTIONS], evaluation_targets(records)[CAPTIONS].queries,
                         clip_names(records))
        err_console.print(f"submission ({chosen.name}): {submission}")
    if json_output:
        print(json.dumps({"manifest": str(manifest), "rows": [r.as_dict() for r in rows]}))
        return
    judged = relevance is not None
    columns = ["mAP@10 [95% CI]", "R@1", "R@5", "R@10", "mAP@10 caption groups"]
    out = Table("model", *columns, *(["mAP@10 DCASE 2025 [95% CI]"] if judged else []), title=f"{manifest}: "
                f"{int(rows[0].metrics['n_queries'])} queries, {int(rows[0].metrics['n_clips'])} clips"
                + (f", {int(rows[0].metrics['n_judged_queries'])} judged queries" if judged else ""))
    for row in rows:
        m, sd = row.metrics, row.std

        def cell(key: str, m=m, sd=sd) -> str:
            interval = (f" [{100 * m[key + '_ci_low']:.2f}, {100 * m[key + '_ci_high']:.2f}]"
                        if key + "_ci_low" in m and key not in sd else "")
            return f"{100 * m[key]:.2f}" + (f" ± {100 * sd[key]:.2f}" if key in sd else "") + interval

        cells = [cell("mAP@10"), cell("R@1"), cell("R@5"), cell("R@10"), cell("mAP@10_caption_groups")]
        out.add_row(row.name, *cells, *([cell("mAP@10_dcase2025")] if judged else []))
    console.print(out)


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="run folders (several seeds of a recipe are grouped)")],
    manifest: Annotated[list[Path], typer.Option(help="evaluation manifest; repeat for more columns")],
    paraphrases: Annotated[Path | None, typer.Option(help="paraphrases for the Table 4 ensemble")] = None,
    n_paraphrases: Annotated[int, typer.Option(help="paraphrases averaged per query")] = 5,
    cache: Annotated[Path | None, typer.Option(help="embedding cache folder")] = None,
) -> None:
    """Print the paper's Tables 1-4 layouts (mAP@10, mean ± std over seeds) from run folders."""
    from audioret.eval.paraphrases import Paraphrases
    from audioret.eval.report import HEADERS, TABLE_TITLES, build_report, format_cell

    table_data = Paraphrases.load(paraphrases) if paraphrases else None
    groups, ensembles = build_report(runs, manifest, table_data, n_paraphrases, cache)
    columns = [f"mAP@10 {m.stem}" for m in manifest]
    for key, title in TABLE_TITLES.items():
        members = [g for g in groups if g.table == key]
        if not members:
            continue
        out = Table(*HEADERS[key], "seeds", *columns, title=title)
        for group in members:
            cells = [format_cell(group.scores[str(m)]) for m in manifest]
            out.add_row(*group.describe(), str(len(group.runs)), *cells)
        console.print(out)
    if ensembles:
        members = sum(len(g.runs) for g in groups) * (2 if paraphrases else 1)
        out = Table("model", *columns, title="Table 4: ensembles")
        out.add_row(f"ensemble of {members} members", *[f"{100 * ensembles[str(m)]['mAP@10']:.2f}" for m in manifest])
        console.print(out)


@app.command()
def index(
    audio_dir: Annotated[Path | None, typer.Argument(help="folder of sounds, any depth and format")] = None,
    out: Annotated[Path, typer.Option(help="index folder to create or update")] = ...,
    model: Annotated[Path | None, typer.Option(help="model folder (default: the embedded default model)")] = None,
    shard: Annotated[str | None, typer.Option(help="i/n: index only the i-th of n parts (then --merge)")] = None,
    merge: Annotated[bool, typer.Option("--merge", help="combine OUT/shards/* into OUT")] = False,
    batch_size: Annotated[int, typer.Option(help="segments embedded per batch")] = 16,
    workers: Annotated[int, typer.Option(help="decoding threads")] = 4,
    backend: Annotated[str, typer.Option(help="auto (exact to 100k, IVF above), flat, ivf, hnsw")] = "auto",
    rebuild: Annotated[bool, typer.Option("--rebuild", help="train the search structure afresh (an update "
                                          "otherwise keeps the trained IVF cells until the index doubles)")] = False,
    row_storage: Annotated[str | None, typer.Option(help="how an IVF index (above 100k segments) stores the vectors "
                                                    "it re-scores: float16, or int8 (half the disk, recall@10 "
                                                    "0.01-0.02 lower on dense data); default: as committed, "
                                                    "float16 for a new folder")] = None,
    device: Annotated[str, typer.Option(help="where the model runs: auto (cuda when there is one), cpu, cuda, "
                                        "cuda:N")] = "auto",
    precision: Annotated[str, typer.Option(help="what the audio encoder computes in: auto (bfloat16 where the "
                                           "device has it natively), float32, bfloat16")] = "auto",
) -> None:
    """Embed a folder of sounds into an index; re-running embeds only new or changed files."""
    from audioret.retrieval.indexer import check_options, index_folder, merge_shards, parse_shard, shard_folder
    from audioret.retrieval.library import StructureOptions

    # every option is checked before the model is loaded or anything is embedded
    check_options(batch_size, workers)
    structure = StructureOptions(backend, row_storage, rebuild)

    if merge:
        if audio_dir is not None or shard is not None:
            raise AudioretError("--merge takes only --out (the folder whose shards/ to combine)")
        report = merge_shards(out, structure)
        console.print(f"merged shards into {report.folder}: {report.files} files, {report.segments} segments")
        return
    if audio_dir is None:
        raise AudioretError("give the folder of sounds to index: audioret index AUDIO_DIR --out INDEX_DIR")
    part = parse_shard(shard) if shard else None
    from audioret.utils.numeric import PRECISIONS

    if precision not in PRECISIONS:
        raise AudioretError(f"--precision {precision}: use one of {', '.join(PRECISIONS)}")
    searcher_model, info = _load_model_for_index(model, out, _torch_device(device), precision)
    try:
        report = index_folder(audio_dir, shard_folder(out, part) if part else out, searcher_model, info, part,
                              batch_size, workers, structure)
    except KeyboardInterrupt:
        err_console.print("interrupted: the batches embedded so far are kept; run the same command to resume")
        raise SystemExit(130) from None
    _export_text_side(searcher_model, info)
    console.print(f"{report.folder}: {report.files} files, {report.segments} segments "
                  f"({report.embedded} embedded now, {report.unchanged} unchanged, {report.removed} removed) "
                  f"in {report.seconds:.1f} s; search structure {report.structure}")
    if report.ignored:
        console.print(f"ignored {len(report.ignored)} files without an audio extension, e.g. {report.ignored[0]}")
    _print_left_out("unreadable files (skipped)", [f"{p}: {r}" for p, r in report.unreadable], report.problems_file)
    if shard:
        console.print(f"when every shard is done: audioret index --merge --out {out}")


def _export_text_side(model, info: dict) -> None:
    """Write the model's ONNX text export (torch is loaded here anyway), so later searches start fast."""
    from audioret.models.text_onnx import export_or_warn, onnx_disabled

    if not onnx_disabled():
        export_or_warn(model, info["source"], info["fingerprint"], replace_damaged=True)


def _torch_device(name: str):
    """`auto`, `cpu`, `cuda` or `cuda:N`, checked before the model is loaded."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AudioretError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AudioretError(f"--device {name}: this machine has no CUDA GPU that torch can use; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise AudioretError(f"--device {name}: only {torch.cuda.device_count()} CUDA devices here")
    if device.type not in ("cpu", "cuda"):
        raise AudioretError(f"--device {name}: only cpu and cuda are supported")
    return device


def _load_model_for_index(model_dir: Path | None, out: Path, device, precision: str):
    from audioret.models.loading import open_model
    from audioret.retrieval.library import IndexStore

    recorded = IndexStore(out).model_info(damaged_ok=True) if out.is_dir() else None
    opened = open_model(model_dir, recorded, device, precision)
    return opened.model, opened.info


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="what the sound is, in words")] = None,
    index_dir: Annotated[Path, typer.Option("--index", help="an index folder from `audioret index`")] = ...,
    k: Annotated[int, typer.Option("-k", help="results per query")] = 10,
    queries: Annotated[Path | None, typer.Option(help="file with one query per line (JSON lines out)")] = None,
    like: Annotated[Path | None, typer.Option(help="search by example: an audio file")] = None,
    model: Annotated[Path | None, typer.Option(help="model folder (default: the one that built the index)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    no_onnx: Annotated[bool, typer.Option("--no-onnx", help="embed text with torch, not the cached ONNX export "
                                          "(as AUDIORET_NO_ONNX=1)")] = False,
) -> None:
    """Rank the indexed sounds for a text query, a file of queries, or an example sound."""
    import json

    from audioret.retrieval.search import Searcher

    if sum(x is not None for x in (query, queries, like)) != 1:
        raise AudioretError('give exactly one of: a query in quotes, --queries FILE, or --like AUDIO_FILE')
    if k < 1:
        raise AudioretError(f"-k must be at least 1, got {k}")
    searcher = Searcher.open(index_dir, model, fast_text=not no_onnx)
    if queries is not None:
        lines = _read_queries(queries)
        for text, hits in zip(lines, searcher.text(lines, k), strict=True):
            print(json.dumps({"query": text, "results": [h.to_json() for h in hits]}))
        _export_after_search(searcher)
        return
    hits = searcher.like(like, k) if like is not None else searcher.text([query], k)[0]
    label = f"sounds like {like}" if like is not None else query
    if json_out:
        print(json.dumps({"query": label, "results": [h.to_json() for h in hits]}))
        if like is None:
            _export_after_search(searcher)
        return
    table = Table("#", "score", "time", "path", title=f"{label}: top {len(hits)} of {searcher.library.n_files} files")
    from audioret.utils.io import escape_name

    for rank, hit in enumerate(hits, 1):
        table.add_row(str(rank), f"{hit.score:.3f}", f"{hit.item.start:.1f}-{hit.item.end:.1f} s",
                      escape_name(str(hit.path)))
    console.print(table)
    if like is None:
        _export_after_search(searcher)


def _export_after_search(searcher) -> None:
    """After a text search that needed torch: write the ONNX export, so that the next one does not."""
    if searcher.text_encoder is None and searcher.model_loaded and searcher.prepare_fast_text():
        err_console.print(f"note: wrote the ONNX text encoder to {searcher.text_encoder.folder}; the next searches "
                          "start without torch", highlight=False)


def _read_queries(path: Path) -> list[str]:
    from audioret.utils.errors import DataFormatError, MissingFileError

    if not path.is_file():
        raise MissingFileError(path, "queries file", "one query per line")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"not UTF-8 text (byte {err.start}); save the queries as UTF-8") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise DataFormatError(path, "empty line; every line must be a query", number)
    if not lines:
        raise DataFormatError(path, "no queries in the file")
    return [line.strip() for line in lines]


@app.command()
def serve(
    index_dir: Annotated[Path, typer.Option("--index", help="an index folder from `audioret index`")] = ...,
    host: Annotated[str, typer.Option(help="address to bind (0.0.0.0 opens it to your network)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    model: Annotated[Path | None, typer.Option(help="model folder (default: the one that built the index)")] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(
        help="a further host name the page may be opened by (repeat; default: loopback and HOST)")] = None,
    no_onnx: Annotated[bool, typer.Option("--no-onnx", help="embed queries with torch, not the ONNX export")] = False,
) -> None:
    """Serve the search page and JSON API of an index on http://HOST:PORT/ (re-indexing is picked up live)."""
    from audioret.retrieval.search import Searcher
    from audioret.retrieval.server import serve as run_server

    if not 1 <= port <= 65535:
        raise AudioretError(f"--port must be a TCP port between 1 and 65535, got {port}")
    searcher = Searcher.open(index_dir, model, fast_text=not no_onnx)
    if not no_onnx:
        searcher.prepare_fast_text()  # written once if the cache lacks it; every query then skips torch
    console.print(f"serving {searcher.library.n_files} files of {searcher.library.root} on http://{host}:{port}/ "
                  "(Ctrl-C stops)")
    run_server(searcher, host, port, allowed_host or [])


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="where the demo library and its index are written")] = Path(
        "audioret-demo"),
    k: Annotated[int, typer.Option("-k", help="results shown per example query")] = 3,
    sources: Annotated[Path, typer.Option(help="where `make demo-sources` unpacked scratch and 7kaa-data")] = Path(
        "data/demo-sources"),
) -> None:
    """Index everyday sounds from two Debian packages with the default model and search them."""
    from audioret.models.loading import open_model
    from audioret.retrieval.demo import EXAMPLE_QUERIES, build_demo_library, demo_index_dir
    from audioret.retrieval.indexer import index_folder
    from audioret.retrieval.library import Library
    from audioret.retrieval.search import Searcher

    library, count = build_demo_library(workdir / "library", sources)
    console.print(f"[bold]1/3[/] demo library: {count} sounds of animals, people, weather and objects "
                  f"(Debian's scratch and 7kaa-data, never trained on) in {library}")
    opened = open_model(None)
    model = opened.model
    console.print(f"[bold]2/3[/] indexing with the default model {model.config.get('name', opened.folder.name)} "
                  f"({model.config['audio']['name']} + {model.config['text']['name']})")
    index_dir = demo_index_dir(workdir, opened.info)
    report = index_folder(library, index_dir, model, opened.info)
    console.print(f"      {report.files} files, {report.segments} segments, {report.embedded} embedded now, "
                  f"in {report.seconds:.1f} s")
    console.print("[bold]3/3[/] searching")
    searcher = Searcher(Library.open(index_dir), model)
    for query, hits in zip(EXAMPLE_QUERIES, searcher.text(list(EXAMPLE_QUERIES), k), strict=True):
        found = ", ".join(f"{hit.item.path} ({hit.score:.2f})" for hit in hits)
        console.print(f'  "{query}" -> {found}')
    run = _own_command()
    console.print(f"""
Search it yourself:
  {run} search --index {index_dir} "a door creaks open"
  {run} serve --index {index_dir}        then open http://127.0.0.1:8000/ (search, listen, "more like this")
Index your own sounds (any folder, any depth; re-running only embeds new or changed files):
  {run} index ~/Sounds --out my-index
  {run} search --index my-index "rain on a tin roof"
""")


def _own_command() -> str:
    """How the user can run audioret again: `audioret` when it is on PATH, else the path that ran it."""
    import os
    import shutil

    if shutil.which("audioret") or not sys.argv or not sys.argv[0].endswith("audioret"):
        return "audioret"
    relative = os.path.relpath(sys.argv[0])
    return sys.argv[0] if relative.startswith("..") else relative


def _print_left_out(what: str, items: list[str], problems_file: Path | None) -> None:
    if not items:
        return
    console.print(f"[yellow]{len(items)} {what}[/]:")
    from audioret.utils.io import escape_name

    for item in items[:MAX_LISTED]:
        console.print(f"  {escape_name(item)}", markup=False, highlight=False)
    if len(items) > MAX_LISTED:
        console.print(f"  ... and {len(items) - MAX_LISTED} more")
    if problems_file is not None:
        console.print(f"  full list: {problems_file}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs a command and turns input errors into a one-line message and exit code 2."""
    try:
        app(args=argv, prog_name="audioret")
    except AudioretError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False, soft_wrap=True)
        return 2
    except SystemExit as done:  # typer ends every run, usage errors included, with SystemExit
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
