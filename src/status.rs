//! The result of incremental parsing (httparse's shape).

/// Whether an incremental parser has a complete value yet. Incomplete input is not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Parsed: the value (often with the number of bytes consumed).
    Complete(T),
    /// More bytes are needed.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is `Complete`.
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }
}
