"""stemtwin.agents: decision makers and learners (DKL-BO, rVAE, baselines).

Agents see observations and spaces only, never ``stemtwin.twin`` internals.
"""
