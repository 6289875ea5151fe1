//! Record batch decoding (every format and codec) over arbitrary bytes.
#![no_main]

use bytes::Bytes;
use kafkit::protocol::records::{Compression, compression, decode_batches_with_limit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for batch in decode_batches_with_limit(Bytes::copy_from_slice(data), 1 << 20) {
        if let Ok(batch) = batch {
            for record in batch.records() {
                let _ = record;
            }
        }
    }
    if let Some((&selector, rest)) = data.split_first() {
        let codec = match selector % 5 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            _ => Compression::Zstd,
        };
        let _ = compression::decompress(codec, rest, 1 << 20);
    }
});
