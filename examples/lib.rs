//! kafkit's examples live in this package's `[[example]]` targets; the
//! library is empty. Run one with `cargo run --example quickstart`.
