"""Pipeline stages, one module each, exposing `inputs(build)`, `preflight(config)` and
`run(build, out) -> metrics`. A new stage adds its module here and its name to config.KNOWN_STAGES."""

# stage name -> module name in this package (a test checks it agrees with config.KNOWN_STAGES)
STAGE_MODULES = {
    "trim": "trim",
    "embed-init": "embed_init",
    "distill": "distill",
    "stack": "stack",
    "eval": "evaluate",
    "release": "release",
}
