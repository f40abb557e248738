//! Adapters (std, tokio, futures-io): placeholder, see the adapters issue.
