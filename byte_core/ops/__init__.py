"""Operations: liveness, readiness and Prometheus metrics (served under /api/ by `ops.http`), and where a
running `byte up` records its address. Nothing here is tenant data: only counts across organizations."""
