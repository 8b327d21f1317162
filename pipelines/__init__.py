"""KFP v2 pipeline for tinysign: thin components over the ``tinysign`` package, compile, local run."""
