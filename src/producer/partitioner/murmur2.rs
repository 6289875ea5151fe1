//! Kafka's key hash: the 32-bit MurmurHash2 variant of the Java client's
//! `Utils.murmur2`, and `Utils.toPositive`.
//!
//! Every Kafka client that wants to place keyed records where the Java
//! producer does must hash the serialized key with exactly this function
//! (seed `0x9747b28c`, little-endian 4-byte blocks) and reduce it with
//! [`to_positive`] before taking the remainder.

/// Kafka's fixed seed for the producer's key hash.
const SEED: u32 = 0x9747_b28c;
/// MurmurHash2's multiplication constant.
const M: u32 = 0x5bd1_e995;
/// MurmurHash2's shift.
const R: u32 = 24;

/// The Java client's `Utils.murmur2(byte[])`: 32-bit MurmurHash2 of `data`
/// with Kafka's seed, returned as the Java `int` it produces.
///
/// ```
/// use kafkit::producer::partitioner::murmur2;
/// // One of Kafka's own test vectors (UtilsTest.testMurmur2).
/// assert_eq!(murmur2(b"foobar"), -790_332_482);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    // Java computes `seed ^ length` on an int; array lengths never exceed
    // i32::MAX there, and truncating keeps us bit-identical for every length
    // Java can hash.
    let mut h = SEED ^ (data.len() as u32);

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The 1 to 3 trailing bytes, first byte lowest, as Java's fall-through
    // switch does it.
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's `Utils.toPositive`: clears the sign bit.
///
/// Unlike `abs`, this maps `i32::MIN` to 0 instead of overflowing, and it is
/// what Kafka applies to a hash before `% num_partitions`.
///
/// ```
/// use kafkit::producer::partitioner::to_positive;
/// assert_eq!(to_positive(-1), i32::MAX);
/// assert_eq!(to_positive(i32::MIN), 0);
/// assert_eq!(to_positive(7), 7);
/// ```
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `UtilsTest.testMurmur2` vectors (apache/kafka, clients).
    #[test]
    fn matches_kafka_utils_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (input, want) in cases {
            assert_eq!(
                murmur2(input),
                want,
                "murmur2({:?})",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// librdkafka's `unittest_murmur2` vectors (rdmurmur2.c), which it
    /// labels as the Java client's results. Together they cover every tail
    /// length (0 to 3 trailing bytes) and the empty key.
    #[test]
    fn matches_librdkafka_java_vectors() {
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&str, u32); 11] = [
            ("kafka", 0xd067_cf64),
            ("giberish123456789", 0x8f55_2b0c),
            ("1234", 0x9fc9_7b14),
            ("234", 0xe7c0_09ca),
            ("34", 0x8739_30da),
            ("4", 0x5a4b_5ca1),
            (unaligned, 0x7842_4f1c),
            (&unaligned[1..], 0x4a62_b377),
            (&unaligned[2..], 0xe0e4_e09e),
            (&unaligned[3..], 0x62b8_b43f),
            ("", 0x106e_08d9),
        ];
        let mut tails = [false; 4];
        for (input, want) in cases {
            tails[input.len() % 4] = true;
            assert_eq!(murmur2(input.as_bytes()), want as i32, "murmur2({input:?})");
        }
        assert_eq!(tails, [true; 4], "vectors must cover every tail length");
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(-2), 0x7fff_fffe);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
    }
}
