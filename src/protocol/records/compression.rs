//! Kafka's compression codecs, all pure Rust: gzip (flate2), snappy (snap,
//! raw and Java's xerial framing), lz4 (lz4_flex, Kafka's LZ4 frame with
//! independent blocks) and zstd (ruzstd; the C libzstd behind `zstd-c`).
//!
//! Every decompressor is bounded by a caller-given cap: a small batch that
//! inflates to gigabytes is an error, never an out-of-memory abort.

use std::io::{Read, Write};

use super::Compression;
use crate::error::{Context, Error, Result};

/// Default cap on one batch's decompressed size (256 MiB).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Java's SnappyOutputStream block size.
const XERIAL_BLOCK: usize = 32 * 1024;

fn err(reason: impl std::fmt::Display) -> Error {
    Error::Records {
        reason: reason.to_string(),
        context: Context::default(),
    }
}

/// Compresses `data` as Kafka's producer would.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::default(),
            );
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
        Compression::Snappy => snappy_xerial(data),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                Vec::with_capacity(data.len() / 2 + 64),
            );
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
        Compression::Zstd => zstd_compress(data),
    }
}

#[cfg(not(feature = "zstd-c"))]
fn zstd_compress(data: &[u8]) -> Result<Vec<u8>> {
    Ok(ruzstd::encoding::compress_to_vec(
        data,
        ruzstd::encoding::CompressionLevel::Fastest,
    ))
}

#[cfg(feature = "zstd-c")]
fn zstd_compress(data: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(data, 3).map_err(err)
}

/// Java's xerial framing: magic, version 1, compatible version 1, then
/// blocks of `[i32 length][raw snappy]`.
fn snappy_xerial(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16 + data.len() / 2 + 64);
    out.extend_from_slice(XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK)];
    for chunk in data.chunks(XERIAL_BLOCK) {
        let n = enc.compress(chunk, &mut block).map_err(err)?;
        out.extend_from_slice(&(n as i32).to_be_bytes());
        out.extend_from_slice(&block[..n]);
    }
    Ok(out)
}

/// Decompresses `data`, failing if the output would exceed `max`.
pub fn decompress(codec: Compression, data: &[u8], max: usize) -> Result<Vec<u8>> {
    match codec {
        Compression::None => {
            if data.len() > max {
                return Err(err(format!("batch exceeds {max} bytes")));
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(data), max, "gzip"),
        Compression::Snappy => snappy_decompress(data, max),
        Compression::Lz4 => lz4_decompress(data, max),
        Compression::Zstd => {
            let dec = ruzstd::decoding::StreamingDecoder::new(data)
                .map_err(|e| err(format!("zstd: {e}")))?;
            read_bounded(dec, max, "zstd")
        }
    }
}

fn read_bounded(reader: impl Read, max: usize, codec: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let limit = (max as u64).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| err(format!("{codec}: {e}")))?;
    if out.len() > max {
        return Err(err(format!(
            "{codec}: decompressed batch exceeds {max} bytes"
        )));
    }
    Ok(out)
}

fn snappy_decompress(data: &[u8], max: usize) -> Result<Vec<u8>> {
    let mut dec = snap::raw::Decoder::new();
    if !data.starts_with(XERIAL_MAGIC) {
        let len = snap::raw::decompress_len(data).map_err(|e| err(format!("snappy: {e}")))?;
        if len > max {
            return Err(err(format!(
                "snappy: decompressed batch exceeds {max} bytes"
            )));
        }
        return dec
            .decompress_vec(data)
            .map_err(|e| err(format!("snappy: {e}")));
    }
    let mut rest = data
        .get(16..)
        .ok_or_else(|| err("snappy: truncated xerial header"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("snappy: truncated xerial block length"))?;
        let len = i32::from_be_bytes(len_bytes);
        let block = usize::try_from(len)
            .ok()
            .and_then(|l| rest.get(4..4 + l))
            .ok_or_else(|| err("snappy: bad xerial block length"))?;
        let n = snap::raw::decompress_len(block).map_err(|e| err(format!("snappy: {e}")))?;
        if out.len() + n > max {
            return Err(err(format!(
                "snappy: decompressed batch exceeds {max} bytes"
            )));
        }
        let start = out.len();
        out.resize(start + n, 0);
        let written = dec
            .decompress(block, &mut out[start..])
            .map_err(|e| err(format!("snappy: {e}")))?;
        out.truncate(start + written);
        rest = &rest[4 + block.len()..];
    }
    Ok(out)
}

fn lz4_decompress(data: &[u8], max: usize) -> Result<Vec<u8>> {
    let attempt = read_bounded(lz4_flex::frame::FrameDecoder::new(data), max, "lz4");
    match attempt {
        Err(e) if e.to_string().contains("checksum") || e.to_string().contains("Checksum") => {
            // KAFKA-3160: Kafka clients before 0.10 computed the frame header
            // checksum over the magic number too. Accept such frames by
            // rewriting the checksum, but only if it is exactly that mistake.
            let fixed = fix_broken_lz4_header(data).ok_or(e)?;
            read_bounded(lz4_flex::frame::FrameDecoder::new(&fixed[..]), max, "lz4")
        }
        other => other,
    }
}

fn fix_broken_lz4_header(data: &[u8]) -> Option<Vec<u8>> {
    use std::hash::Hasher;
    let flg = *data.get(4)?;
    let mut hc_pos = 6;
    if flg & 0x08 != 0 {
        hc_pos += 8; // content size
    }
    if flg & 0x01 != 0 {
        hc_pos += 4; // dictionary id
    }
    let stored = *data.get(hc_pos)?;
    let hc = |range: std::ops::Range<usize>| -> Option<u8> {
        let mut h = twox_hash::XxHash32::with_seed(0);
        h.write(data.get(range)?);
        Some((h.finish() >> 8) as u8)
    };
    if hc(0..hc_pos)? != stored {
        return None;
    }
    let mut fixed = data.to_vec();
    fixed[hc_pos] = hc(4..hc_pos)?;
    Some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decompression_is_bounded() {
        let big = vec![7u8; 1 << 20];
        for codec in Compression::ALL {
            let c = compress(codec, &big).unwrap();
            let e = decompress(codec, &c, 1000).unwrap_err();
            assert!(e.to_string().contains("exceeds"), "{codec:?}: {e}");
            assert_eq!(decompress(codec, &c, 1 << 20).unwrap(), big);
        }
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data = b"raw snappy as librdkafka may write it".repeat(20);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn lz4_with_pre_0_10_header_checksum_is_accepted() {
        let data = b"old kafka lz4".repeat(50);
        let mut frame = compress(Compression::Lz4, &data).unwrap();
        // Recompute the header checksum the broken way (over the magic too).
        use std::hash::Hasher;
        let mut h = twox_hash::XxHash32::with_seed(0);
        h.write(&frame[0..6]);
        frame[6] = (h.finish() >> 8) as u8;
        assert_eq!(decompress(Compression::Lz4, &frame, 1 << 20).unwrap(), data);
        // A checksum wrong in any other way is still rejected.
        frame[6] = frame[6].wrapping_add(1);
        assert!(decompress(Compression::Lz4, &frame, 1 << 20).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(data in prop::collection::vec(any::<u8>(), 0..100_000), idx in 0usize..5) {
            let codec = Compression::ALL[idx];
            let c = compress(codec, &data).unwrap();
            prop_assert_eq!(decompress(codec, &c, data.len()).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..512), idx in 0usize..5) {
            let _ = decompress(Compression::ALL[idx], &data, 1 << 16);
        }
    }
}
