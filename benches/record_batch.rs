//! Record batch encode/decode throughput: 1,000 records with 8-16 byte keys
//! and 100-byte values, for every codec. Throughput is the uncompressed
//! batch size, so GB/s figures compare across codecs.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafkit::protocol::records::{BatchWriter, Compression, decode_batches};

fn records() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..1000u32)
        .map(|i| {
            let key = format!("key-{i:0width$}", width = (i % 9 + 4) as usize).into_bytes();
            // Semi-compressible values, like real payloads.
            let value: Vec<u8> = (0..100u32)
                .map(|j| b"abcdefghij"[((i * 7 + j * 13) % 10) as usize] ^ (j as u8 & 3))
                .collect();
            (key, value)
        })
        .collect()
}

fn encode(codec: Compression, recs: &[(Vec<u8>, Vec<u8>)]) -> Bytes {
    let mut w = BatchWriter::with_capacity(codec, 128 * 1024);
    for (i, (k, v)) in recs.iter().enumerate() {
        w.append(1_700_000_000_000 + i as i64, Some(k), Some(v), &[]);
    }
    w.finish().expect("encode")
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let raw_size = encode(Compression::None, &recs).len() as u64;
    let mut enc = c.benchmark_group("encode");
    enc.throughput(Throughput::Bytes(raw_size));
    for codec in Compression::ALL {
        enc.bench_function(codec.name(), |b| b.iter(|| encode(codec, black_box(&recs))));
    }
    enc.finish();

    let mut dec = c.benchmark_group("decode");
    dec.throughput(Throughput::Bytes(raw_size));
    for codec in Compression::ALL {
        let batch = encode(codec, &recs);
        dec.bench_function(codec.name(), |b| {
            b.iter(|| {
                let mut total = 0usize;
                for batch in decode_batches(black_box(batch.clone())) {
                    for r in batch.expect("batch").records() {
                        let r = r.expect("record");
                        total += r.key.map_or(0, |k| k.len()) + r.value.map_or(0, |v| v.len());
                    }
                }
                total
            })
        });
    }
    dec.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
