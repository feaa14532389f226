"""Step types: one module per type, looked up through `registry` (see base.StepType for what a type declares)."""
