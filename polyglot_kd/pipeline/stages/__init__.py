"""Pipeline stages, one recipe module each, exposing `inputs(build)`, `preflight(config)` and
`run(build, out) -> metrics`; declared here in pipeline order, one line each.

`makes_model`: the stage writes a model of its own (`<stage>/model/`); `opt_in`: it runs only when
asked for (`--stages` or the language file), since it needs extra models.
"""

from polyglot_kd.core.registry import Registry

STAGES = Registry("stage")
STAGES.add("trim", "polyglot_kd.pipeline.stages.trim", makes_model=True)
STAGES.add("embed-init", "polyglot_kd.pipeline.stages.embed_init", makes_model=True, opt_in=True)
STAGES.add("distill", "polyglot_kd.pipeline.stages.distill", makes_model=True)
STAGES.add("stack", "polyglot_kd.pipeline.stages.stack", makes_model=True, opt_in=True)
STAGES.add("eval", "polyglot_kd.pipeline.stages.evaluate")
STAGES.add("release", "polyglot_kd.pipeline.stages.release")


def model_stages() -> list[str]:
    return [s for s in STAGES if STAGES.info(s).get("makes_model")]


def default_stages() -> list[str]:
    return [s for s in STAGES if not STAGES.info(s).get("opt_in")]
