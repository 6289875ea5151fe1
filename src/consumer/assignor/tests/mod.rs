//! Tests of the assignors and the consumer protocol encoding.
