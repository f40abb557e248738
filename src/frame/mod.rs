//! Wire format (RFC 6455 §5.2): frame headers, masking, close codes. No state.

mod close;

pub use close::CloseCode;
