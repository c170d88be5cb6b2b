//! Eval runs: a suite over a dataset version against a model, prompt or chain, with gates.
