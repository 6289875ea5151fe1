//! Record batch codec benches (placeholder until the codec lands).
fn main() {}
