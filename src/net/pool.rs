//! Connection pool: per broker and lane.
