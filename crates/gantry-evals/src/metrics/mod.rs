//! Evaluators as pure functions, each checked against its reference implementation.
