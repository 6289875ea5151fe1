//! Varint/varlong (zigzag) primitives used by the record format.
