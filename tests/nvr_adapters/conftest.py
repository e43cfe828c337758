"""Reuse the simulator fixtures of the simulator's own tests."""

from tests.nvr_sim.conftest import anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator"]
