//! Admin client. (STUB)

/// Admin client.
#[derive(Debug)]
pub struct Admin;
