"""Embedding initialisation for a new tokenizer: OFA, FOCUS, mean-of-pieces and random, in one registry.

Every method fills the rows of the new vocabulary in the same space as the rows of a *source basis*
matrix: the old embedding matrix E itself (full rank), or the coordinates of its rank-k SVD
factorisation (OFA): E ~ (U_k S_k) V_k^T, coordinates U_k S_k (vocab x k), primitives V_k^T (k x H).
The singular values sit in the coordinates rather than the primitives (the reference puts them in the
primitives) so that the coordinates have the scale of embedding rows and the optimiser's step sizes
stay those of a full embedding; the product is the same. A new token's row is then a combination of
old rows, and the primitives are shared, so every method also works in the factorised form.

Tokens present in both vocabularies (same string, else same lower-cased string) copy their row in
every method but 'random'; tokens a method cannot place get N(mean, std) of the old rows.
Each method is declared in `INIT_METHODS` (this package's `__init__`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from polyglot_kd.methods.embed_init.config import EmbedInitConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import parameter_count, same_class_kwargs
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.methods.embed_init.word_vectors import FASTTEXT_THREADS, WordVectors

log = logging.getLogger(__name__)



@dataclass
class InitInputs:
    source_tokenizer: object
    target_tokenizer: object
    basis: np.ndarray  # (old vocab, r): E, or the coordinates of its factorisation
    config: EmbedInitConfig
    langs: tuple[str, str] = ("en", "xx")
    vectors: WordVectors | None = None  # OFA
    texts: list[str] = field(default_factory=list)  # FOCUS: the new tokenizer's training text


@dataclass
class InitResult:
    matrix: np.ndarray  # (new vocab, r)
    counts: dict[str, int]  # tokens per way of initialising ('copied', 'neighbours', 'random', ...)


# ---------------------------------------------------------------- shared pieces

def factorise(embedding: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(coordinates (V, k), primitives (k, H)); rank 0 or >= H: (E, None), no factorisation."""
    hidden = embedding.shape[1]
    if rank > hidden:
        raise PolyglotError(f"embed_init.rank: {rank} is above the model's hidden size {hidden}; expected 1..{hidden} "
                            "(or 0 for full rank)")
    if rank in (0, hidden):
        return embedding.astype(np.float32), None
    # E = U S V^T: V and S^2 from the small (H x H) Gram matrix, then U_k S_k = E V_k (seconds, not minutes)
    e = embedding.astype(np.float64)
    eigenvalues, vectors = np.linalg.eigh(e.T @ e)
    v = vectors[:, np.argsort(eigenvalues)[::-1][:rank]]
    return (e @ v).astype(np.float32), v.T.astype(np.float32)


def shared_tokens(source_tok, target_tok) -> dict[int, int]:
    """New id -> old id for tokens in both vocabularies: same string, else same lower-cased string."""
    old = source_tok.get_vocab()
    lower: dict[str, int] = {}
    for piece, i in sorted(old.items(), key=lambda kv: kv[1]):
        lower.setdefault(piece.lower(), i)
    out = {}
    for piece, i in target_tok.get_vocab().items():
        j = old.get(piece, lower.get(piece.lower()))
        if j is not None:
            out[i] = j
    return out


def random_rows(basis: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(basis.mean(0), basis.std(0), size=(n, basis.shape[1])).astype(np.float32)


def _start(inp: InitInputs) -> tuple[np.ndarray, dict[int, int], np.ndarray]:
    """New matrix filled with random rows, the shared tokens copied; (matrix, shared, placed mask)."""
    n = len(inp.target_tokenizer)
    matrix = random_rows(inp.basis, n, inp.config.seed)
    shared = shared_tokens(inp.source_tokenizer, inp.target_tokenizer)
    placed = np.zeros(n, bool)
    for new, old in shared.items():
        matrix[new] = inp.basis[old]
        placed[new] = True
    return matrix, shared, placed


def neighbour_weights(similarity: np.ndarray, k: int, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row and their softmax(sim / temperature) weights (each row sums to 1)."""
    k = min(k, similarity.shape[1])
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    sims = np.take_along_axis(similarity, top, 1) / temperature
    sims -= sims.max(1, keepdims=True)
    w = np.exp(sims)
    return top, (w / w.sum(1, keepdims=True)).astype(np.float32)


def sparsemax(z: np.ndarray) -> np.ndarray:
    """Sparsemax of each row (Martins & Astudillo): the Euclidean projection onto the simplex."""
    s = -np.sort(-z, axis=1)
    cum = np.cumsum(s, axis=1)
    ks = np.arange(1, z.shape[1] + 1)
    support = 1 + ks * s > cum
    k = support.sum(1, keepdims=True)
    tau = (np.take_along_axis(cum, k - 1, 1) - 1) / k
    return np.maximum(z - tau, 0)


def _normalise(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)


# ---------------------------------------------------------------- methods

def init_random(inp: InitInputs) -> InitResult:
    """Random N(mean, std) rows for every token but the special ones (copied)."""
    n = len(inp.target_tokenizer)
    matrix = random_rows(inp.basis, n, inp.config.seed)
    shared = shared_tokens(inp.source_tokenizer, inp.target_tokenizer)
    specials = [i for i in inp.target_tokenizer.all_special_ids if i in shared]
    for i in specials:
        matrix[i] = inp.basis[shared[i]]
    return InitResult(matrix, {"special_copied": len(specials), "random": n - len(specials)})


def init_mean(inp: InitInputs) -> InitResult:
    """A new token = the mean of the old rows of its text's pieces under the old tokenizer."""
    matrix, shared, placed = _start(inp)
    new_ids = [i for i in range(len(matrix)) if not placed[i]]
    texts = [inp.target_tokenizer.convert_tokens_to_string([p]).strip()
             for p in inp.target_tokenizer.convert_ids_to_tokens(new_ids)]
    pieces = inp.source_tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    unk = inp.source_tokenizer.unk_token_id
    done = 0
    for i, ids in zip(new_ids, pieces):
        ids = [j for j in ids if j != unk]
        if ids:
            matrix[i] = inp.basis[ids].mean(0)
            done += 1
    return InitResult(matrix, {"copied": len(shared), "mean_of_pieces": done, "random": len(new_ids) - done})


def subword_vectors(tokenizer, vectors: WordVectors) -> tuple[np.ndarray, np.ndarray]:
    """(vocab, dim) mean vector of the words containing each token (as tokenised: the word and its
    capitalised form), and a mask of the tokens that got one."""
    n, dim = len(tokenizer), vectors.dim
    sums = np.zeros((n, dim), np.float64)
    counts = np.zeros(n, np.int64)
    forms = vectors.words + [w[:1].upper() + w[1:] for w in vectors.words]
    rows = np.concatenate([np.arange(len(vectors.words))] * 2)
    special = set(tokenizer.all_special_ids)
    for start in range(0, len(forms), 20000):
        batch = tokenizer(forms[start:start + 20000], add_special_tokens=False)["input_ids"]
        for row, ids in zip(rows[start:start + 20000], batch):
            for j in set(ids) - special:
                sums[j] += vectors.matrix[row]
                counts[j] += 1
    has = counts > 0
    sums[has] /= counts[has, None]
    return sums.astype(np.float32), has


def init_ofa(inp: InitInputs) -> InitResult:
    """OFA: copy shared tokens; a new token = softmax(sim / T)-weighted sum of its top-k old tokens by
    cosine similarity of subword vectors (from multilingual word vectors); random otherwise."""
    if inp.vectors is None:
        raise PolyglotError("OFA needs word vectors (embed_init.vectors or the built default)")
    cfg = inp.config
    matrix, shared, placed = _start(inp)
    src_vec, src_has = subword_vectors(inp.source_tokenizer, inp.vectors)
    tgt_vec, tgt_has = subword_vectors(inp.target_tokenizer, inp.vectors)
    if not src_has.any() or not tgt_has.any():
        side = "old" if not src_has.any() else "new"
        raise PolyglotError(f"embed_init.vectors: none of the {len(inp.vectors.words):,} words in the vectors file "
                            f"gives a vector to any token of the {side} tokenizer; expected words of "
                            f"{'/'.join(inp.langs)} text")
    src_ids = np.flatnonzero(src_has)
    keys = _normalise(src_vec[src_ids])
    todo = np.array([i for i in range(len(matrix)) if not placed[i] and tgt_has[i]], dtype=np.int64)
    for start in range(0, len(todo), 2048):
        ids = todo[start:start + 2048]
        top, w = neighbour_weights(_normalise(tgt_vec[ids]) @ keys.T, cfg.top_k, cfg.temperature)
        matrix[ids] = np.einsum("nk,nkr->nr", w, inp.basis[src_ids[top]])
    return InitResult(matrix, {"copied": len(shared), "neighbours": len(todo),
                               "random": int(len(matrix) - len(shared) - len(todo)),
                               "old_tokens_with_vectors": int(src_has.sum())})


def focus_fasttext(tokenizer, texts: list[str], cfg: EmbedInitConfig):
    """CBOW fastText on `texts` pre-tokenised with the new tokenizer (cached by text and tokenizer)."""
    import fasttext

    lines = [" ".join(tokenizer.tokenize(t)) for t in texts]
    key = hashlib.sha256(repr((lines, cfg.vector_dim, cfg.fasttext_epochs, cfg.min_count, cfg.seed, "v2")).encode())
    path = cache_dir() / "vectors" / f"focus-{key.hexdigest()[:24]}.bin"
    if path.is_file():
        return fasttext.load_model(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    corpus = path.with_suffix(".txt")
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("FOCUS: training CBOW fastText on %d tokenised lines", len(lines))
    model = fasttext.train_unsupervised(str(corpus), model="cbow", dim=cfg.vector_dim or 100,
                                        epoch=cfg.fasttext_epochs, minCount=cfg.min_count, thread=FASTTEXT_THREADS,
                                        verbose=0)
    corpus.unlink()
    model.save_model(str(path))
    return model


def init_focus(inp: InitInputs) -> InitResult:
    """FOCUS: copy shared tokens; a new token = sparsemax(cosine similarity)-weighted combination of the
    shared tokens' rows, similarity from fastText on target text tokenised with the new tokenizer."""
    if not inp.texts:
        raise PolyglotError("FOCUS needs the new tokenizer's training text")
    matrix, shared, placed = _start(inp)
    model = focus_fasttext(inp.target_tokenizer, inp.texts, inp.config)
    known = set(model.words)
    pieces = inp.target_tokenizer.convert_ids_to_tokens(list(range(len(matrix))))
    anchors = [i for i in shared if pieces[i] in known]
    if not anchors:
        raise PolyglotError("FOCUS: no token shared by both vocabularies appears in the fastText model; "
                            "expected overlapping tokens to combine")
    keys = _normalise(np.stack([model.get_word_vector(pieces[i]) for i in anchors]))
    anchor_rows = inp.basis[[shared[i] for i in anchors]]
    todo = [i for i in range(len(matrix)) if not placed[i] and pieces[i] in known]
    for start in range(0, len(todo), 2048):
        ids = todo[start:start + 2048]
        query = _normalise(np.stack([model.get_word_vector(pieces[i]) for i in ids]))
        matrix[ids] = sparsemax(query @ keys.T).astype(np.float32) @ anchor_rows
    return InitResult(matrix, {"copied": len(shared), "sparsemax": len(todo),
                               "random": int(len(matrix) - len(shared) - len(todo))})


def initialise(method: str, inp: InitInputs) -> InitResult:
    from polyglot_kd.methods.embed_init import INIT_METHODS

    return INIT_METHODS.get(method)(inp)


# ---------------------------------------------------------------- the new model

def build_model(source_model, result: InitResult, primitives: np.ndarray | None, pad_token_id: int):
    """The source encoder with the new embedding: factorised when `primitives` is given."""
    vocab = result.matrix.shape[0]
    state = {k: v for k, v in source_model.state_dict().items() if "word_embeddings" not in k}
    config_dict = source_model.config.to_dict()
    config_dict.update(vocab_size=vocab, pad_token_id=pad_token_id)
    pooling = same_class_kwargs(source_model)
    if primitives is None:
        config = type(source_model.config).from_dict(config_dict)
        model = type(source_model)(config, **pooling)
        model.get_input_embeddings().weight.data = torch.from_numpy(result.matrix).clone()
    else:
        from polyglot_kd.methods.embed_init.factorised import FactorisedBertConfig, FactorisedBertModel

        if config_dict.get("model_type") not in ("bert", FactorisedBertConfig.model_type):
            raise PolyglotError(f"factorised embeddings are implemented for BERT-architecture encoders, not "
                                f"{config_dict.get('model_type')!r}; use embed_init.rank = 0 (full rank)")
        for key in ("model_type", "architectures", "auto_map", "embedding_rank", "transformers_version"):
            config_dict.pop(key, None)
        config = FactorisedBertConfig(embedding_rank=primitives.shape[0], **config_dict)
        model = FactorisedBertModel(config, **pooling)
        emb = model.embeddings.word_embeddings
        emb.coordinates.data = torch.from_numpy(result.matrix).clone()
        emb.primitives.data = torch.from_numpy(primitives).clone()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if "word_embeddings" not in k]
    if missing or unexpected:
        raise PolyglotError(f"could not carry the encoder's weights over: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def embedding_parameters(model) -> int:
    return parameter_count(model.get_input_embeddings())
