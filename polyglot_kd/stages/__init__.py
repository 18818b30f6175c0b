"""Pipeline stages, one module each: `inputs(build)`, `preflight(config)`, `run(build, out) -> metrics`."""
