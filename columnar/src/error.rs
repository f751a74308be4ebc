/// Errors of the columnar layer.
#[derive(Debug, thiserror::Error)]
pub enum ColumnarError {
    /// Arrow refused to assemble arrays; this is a bug in the builder.
    #[error("internal error (a bug): arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Columns read back (from a log or a peer) are not a trade batch.
    #[error("not a trade batch: {0}")]
    Schema(String),
}

/// Result with [`ColumnarError`] as the default error.
pub type Result<T, E = ColumnarError> = std::result::Result<T, E>;
