//! Owned messages and reassembly for adapters: placeholder.
