//! Incremental UTF-8 validation: placeholder.
