//! User feedback on traces and human review queues.
