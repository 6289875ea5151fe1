//! How bytes reach a broker: plain TCP today; the seam where TLS and SASL go.
