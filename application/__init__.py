"""Use cases, projections and the runner's logic. Depends on the domain only."""
