//! Partitioners (placeholder).
