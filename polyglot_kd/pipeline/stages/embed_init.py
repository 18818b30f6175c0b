"""Embed-init stage: a language-specific tokenizer and its embeddings, initialised from the trimmed model.

Trains a sentencepiece unigram tokenizer on the target's training verses (with English mixed in),
initialises its embeddings with the method of `[embed_init]` (OFA by default, in factorised form at
`rank`), and writes the trimmed model's layers under the new embedding as `model/`. With
`warmup_steps`, the new embeddings then train alone (body frozen) towards the trimmed model
(`methods/embed_init/warmup.py`), and the dev retrieval before and after is recorded. The distill stage
then starts its student from this model (and keeps the trimmed model as its teacher).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from polyglot_kd.core.files import inputs_hash
from polyglot_kd.engine.trainer import CHECKPOINTS, Trainer, TrainSettings, make_accelerator
from polyglot_kd.methods.bistil import objective
from polyglot_kd.methods.embed_init import initialise as embed_init
from polyglot_kd.methods.embed_init import target_tokenizer, warmup, word_vectors
from polyglot_kd.pipeline.build import MODEL_DIR, Build
from polyglot_kd.config import LanguageConfig
from polyglot_kd.data import corpora
from polyglot_kd.data.held_out import held_out_sets
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_encoder, load_tokenizer, parameter_count
from polyglot_kd.sources.teacher import resolve_teacher
from polyglot_kd.core.timing import Timer

log = logging.getLogger(__name__)

UPSTREAM = "trim"
INIT_REPORT = "init.json"  # how each new token was initialised, the alignment check, fertility


def inputs(build: Build) -> dict:
    c = build.config
    e = c.embed_init
    vectors = None
    if e.vectors and Path(e.vectors).is_file():
        st = Path(e.vectors).stat()
        vectors = {"path": str(Path(e.vectors).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"corpus": corpora.fingerprint(c), "embed_init": vars(e), "vectors_file": vectors,
            "base": (build.manifest(UPSTREAM) or {}).get("inputs_hash")}


def tokenizer_texts(config: LanguageConfig) -> list[str]:
    counting = corpora.train_text(config).counting
    return target_tokenizer.mixed_text(counting["source"], counting["target"],
                                       config.embed_init.source_share, config.embed_init.seed)


def preflight(config: LanguageConfig) -> list[str]:
    """Vectors file, rank, tokenizer size: checked before any work."""
    problems = corpus_problems(config)
    if problems:
        return problems
    e = config.embed_init
    uses_vectors = e.method == "ofa"
    if e.vectors and uses_vectors:
        problems += word_vectors.check_file(e.vectors, e.vectors_format, e.vector_dim)
    try:
        hidden = _hidden_size(config.teacher)
    except (OSError, PolyglotError, ValueError) as exc:
        hidden = None
        log.debug("preflight: hidden size unknown (%s)", exc)
    if hidden and e.rank > hidden:
        problems.append(f"embed_init.rank: {e.rank} is above the model's hidden size {hidden}; expected 1..{hidden} "
                        "(or 0 for full rank)")
    texts = tokenizer_texts(config)
    if problem := target_tokenizer.size_problem(texts, e.vocab_size):
        problems.append(problem)
    if e.vectors and uses_vectors and not problems and word_vectors.resolve_format(Path(e.vectors), e.vectors_format) != "bin":
        problems += _overlap_problems(e.vectors, texts, (config.source, config.code))
    return problems


def _hidden_size(teacher: str) -> int:
    path = resolve_teacher(teacher) / "config.json"
    return int(json.loads(path.read_text())["hidden_size"])


def _overlap_problems(path: str, texts: list[str], langs: tuple[str, str]) -> list[str]:
    """A text vectors file must share words with the text the tokenizer is trained on."""
    words = {w for t in texts for w in word_vectors._words(t)}
    seen = hits = 0
    opener = open if not path.endswith(".gz") else __import__("gzip").open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            key = line.split(" ", 1)[0]
            m = word_vectors._KEY.match(key)
            lang, word = (m.group(1), m.group(2)) if m else (None, key)
            if lang in (None, *langs):
                seen += 1
                hits += word.lower() in words
            if hits:
                return []
    return [f"embed_init.vectors: none of the {seen:,} {'/'.join(langs)} words in {path} occurs in the "
            f"{'/'.join(langs)} training text: no overlap with the tokenizer; expected vectors of these languages "
            "(keys 'word' or 'lang:word')"]


def run(build: Build, out: Path) -> dict:
    cfg, e = build.config, build.config.embed_init
    base = build.model_dir(UPSTREAM)
    if base is None:
        raise PolyglotError(f"embed-init needs a trimmed model in {build.stage_dir(UPSTREAM)}: run "
                            f"`polyglot-kd build {cfg.code} --stages trim,embed-init`")
    timer = Timer()
    langs = (cfg.source, cfg.code)
    with timer("tokenizer"):
        source_tok = load_tokenizer(base)
        texts = tokenizer_texts(cfg)
        new_tok = target_tokenizer.train_unigram(source_tok, texts, e.vocab_size, out / MODEL_DIR)
    report: dict = {"method": e.method, "rank": e.rank, "vocab_old": len(source_tok), "vocab_new": len(new_tok)}
    vectors = None
    if e.method == "ofa":
        with timer("vectors"):
            vectors, report["vectors"] = _vectors(cfg, langs)
    with timer("init"):
        source = load_encoder(base)
        basis, primitives = embed_init.factorise(source.get_input_embeddings().weight.detach().numpy(), e.rank)
        inp = embed_init.InitInputs(source_tok, new_tok, basis, e, langs, vectors, texts)
        result = embed_init.initialise(e.method, inp)
        model = embed_init.build_model(source, result, primitives, new_tok.pad_token_id)
        model.save_pretrained(out / MODEL_DIR, safe_serialization=True)
    report["tokens"] = result.counts
    if e.warmup_steps:
        with timer("warmup"):
            report["warmup"] = _warm_up(cfg, model, new_tok, base, out)
        model.save_pretrained(out / MODEL_DIR, safe_serialization=True)
    with timer("fertility"):
        report["fertility"] = held_out_fertility(cfg, source_tok, new_tok)
    (out / INIT_REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    log.info("embed-init %s rank %s: %s", e.method, e.rank or "full", result.counts)
    return {**report, "params": parameter_count(model), "params_base": parameter_count(source),
            "embedding_params": embed_init.embedding_parameters(model),
            "embedding_params_base": embed_init.embedding_parameters(source), "timings": timer.seconds}


WARMUP_DIR = "warmup"  # the warm-up's metrics and loss curve


def _warm_up(cfg: LanguageConfig, model, tokenizer, teacher_dir: Path, out: Path) -> dict:
    """Train `model`'s word embeddings alone towards the trimmed model at `teacher_dir`, with the distill
    stage's batches and losses (word-aligned: the tokenizers differ) over every layer; in place."""
    e = cfg.embed_init
    d = dataclasses.replace(cfg.distill, steps=e.warmup_steps, lr=e.warmup_lr)
    eager = {"attn_implementation": "eager"} if d.attention_weight else {}  # attention maps need eager
    teacher = load_encoder(teacher_dir, **eager)
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher_tokenizer = load_tokenizer(teacher_dir)
    student = load_encoder(out / MODEL_DIR, **eager)  # a copy: dropout off here, kept in the saved model
    objective.no_dropout(student)
    trained = warmup.train_embeddings_only(student)
    layers = list(range(teacher.config.num_hidden_layers))
    pairs = corpora.distill_files(cfg).pairs
    batches = objective.BilingualBatches(pairs, d.batch_size, d.seed)
    settings = TrainSettings(steps=d.steps, lr=d.lr, warmup_steps=min(d.warmup_steps, d.steps),
                             checkpoint_every=d.checkpoint_every, eval_every=d.eval_every, seed=e.seed,
                             cpu_bf16=d.cpu_bf16)
    accelerator = make_accelerator(1)
    teacher.to(accelerator.device)
    trainer = None
    loss_fn = objective.make_loss_fn(d, teacher, lambda: trainer.module, layers, tokenizer, batches,
                                     accelerator.device, teacher_tokenizer)
    trainer = Trainer(out / WARMUP_DIR, objective.DistillStudent(student), loss_fn, settings,
                      accelerator=accelerator, config_hash=inputs_hash({"embed_init": vars(e), "distill": vars(d)}))
    dev = corpora.dev_set(cfg, max_items=d.eval_items)
    evaluate = objective.dev_retrieval(dev, cfg.eval.prefix, student, tokenizer, teacher, teacher_tokenizer,
                                       max_length=d.max_length)
    before = evaluate()
    trainer.evaluate = evaluate
    summary = trainer.train()
    warmed = trainer.accelerator.unwrap_model(trainer.module).encoder
    after = evaluate()
    warmup.copy_embeddings(warmed, model)
    shutil.rmtree(out / WARMUP_DIR / CHECKPOINTS, ignore_errors=True)
    log.info("embedding warm-up, %d steps: dev retrieval %.1f -> %.1f", d.steps, 100 * before["dev_retrieval"],
             100 * after["dev_retrieval"])
    return {"steps": d.steps, "lr": d.lr, "trained": trained, "dev_before": before, "dev_after": after,
            "training": summary}


def _vectors(cfg: LanguageConfig, langs: tuple[str, str]):
    e = cfg.embed_init
    if e.vectors:
        path, origin = Path(e.vectors), "file"
    else:
        pairs = corpora.train_text(cfg).pairs
        path = word_vectors.build_default(pairs.source, pairs.target, langs, e.vector_dim, e.fasttext_epochs,
                                          e.min_count, e.seed)
        origin = "built: fastText skipgram on a pseudo-bilingual corpus of the parallel training pairs"
    vectors = word_vectors.load(str(path), e.vectors_format)
    if e.vector_dim and vectors.dim != e.vector_dim:
        raise PolyglotError(f"embed_init.vectors: {path} holds {vectors.dim}-dimensional vectors, expected "
                            f"embed_init.vector_dim = {e.vector_dim}")
    info = {"path": str(path), "origin": origin, "words": len(vectors.words), "dim": vectors.dim}
    if e.bli_pairs == "freedict":
        try:
            info["bli"] = word_vectors.bli_precision(vectors, langs[0], langs[1], word_vectors.freedict_pairs(cfg.code))
            info["bli"]["lexicon"] = "FreeDict eng-" + word_vectors.ISO3[cfg.code]
        except PolyglotError as exc:
            info["bli"] = {"skipped": str(exc)}
    return vectors, info


def held_out_fertility(cfg: LanguageConfig, old_tok, new_tok) -> dict:
    """Tokens per word of the old and new tokenizer on the held-out Gospels and the UDHR."""
    report = {}
    for name, data in held_out_sets(cfg).items():
        for side, texts in (("source", data.source), ("target", data.target)):
            old = target_tokenizer.fertility(old_tok, texts)
            new = target_tokenizer.fertility(new_tok, texts)
            report[f"{name}/{side}"] = {"old": old, "new": new, "ratio": new / old}
    return report
