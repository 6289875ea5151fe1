//! Record codec properties: round trips for every compression, corruption
//! and truncation handling, control batches, legacy message sets.

use bytes::{BufMut, Bytes, BytesMut};
use kafkit::protocol::records::{
    BatchWriter, Compression, ControlRecord, ControlType, Record, TimestampType, decode_batches,
    decode_batches_with_limit, restamp_producer,
};
use proptest::prelude::*;

type Hdr = (String, Option<Vec<u8>>);
type Rec = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<Hdr>);

fn record_strategy() -> impl Strategy<Value = Rec> {
    (
        -1_000_000i64..1_000_000,
        prop::option::of(prop::collection::vec(any::<u8>(), 0..32)),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        prop::collection::vec(
            (
                "[a-z]{0,8}",
                prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
            ),
            0..3,
        ),
    )
}

fn write(codec: Compression, base_ts: i64, recs: &[Rec]) -> Bytes {
    let mut w = BatchWriter::new(codec);
    w.producer(42, 3, 7).transactional(true);
    for (dt, k, v, h) in recs {
        let hs: Vec<(&str, Option<&[u8]>)> =
            h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        w.append(base_ts + dt, k.as_deref(), v.as_deref(), &hs);
    }
    w.finish().unwrap()
}

fn all_records(data: Bytes) -> Vec<Record> {
    decode_batches(data)
        .flat_map(|b| b.unwrap().records().collect::<Vec<_>>())
        .map(|r| r.unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_round_trip_with_every_codec(recs in prop::collection::vec(record_strategy(), 1..60), idx in 0usize..5) {
        let codec = Compression::ALL[idx];
        let base = 1_700_000_000_000;
        let bytes = write(codec, base, &recs);
        let batches: Vec<_> = decode_batches(bytes).collect();
        prop_assert_eq!(batches.len(), 1);
        let batch = batches.into_iter().next().unwrap().unwrap();
        prop_assert_eq!(batch.compression(), Some(codec));
        prop_assert_eq!((batch.producer_id, batch.producer_epoch, batch.base_sequence), (42, 3, 7));
        prop_assert!(batch.is_transactional() && !batch.is_control());
        prop_assert_eq!(batch.record_count as usize, recs.len());
        prop_assert_eq!(batch.last_offset(), recs.len() as i64 - 1);
        prop_assert_eq!(batch.max_timestamp, recs.iter().map(|r| base + r.0).max().unwrap());
        let decoded: Vec<Record> = batch.records().map(|r| r.unwrap()).collect();
        prop_assert_eq!(decoded.len(), recs.len());
        for (i, (got, (dt, k, v, h))) in decoded.iter().zip(&recs).enumerate() {
            prop_assert_eq!(got.offset, i as i64);
            prop_assert_eq!(got.timestamp, base + dt);
            prop_assert_eq!(got.key.as_deref(), k.as_deref());
            prop_assert_eq!(got.value.as_deref(), v.as_deref());
            let hs: Vec<Hdr> = got.headers.iter().map(|h| (h.key_str().unwrap().to_owned(), h.value.as_ref().map(|v| v.to_vec()))).collect();
            prop_assert_eq!(&hs, h);
        }
    }

    #[test]
    fn restamped_batches_keep_their_records_and_a_valid_crc(recs in prop::collection::vec(record_strategy(), 1..30), idx in 0usize..5, pid in any::<i64>(), epoch in any::<i16>(), seq in any::<i32>()) {
        let original = write(Compression::ALL[idx], 1_000, &recs);
        let restamped = restamp_producer(&original, pid, epoch, seq).unwrap();
        prop_assert_eq!(restamped.len(), original.len());
        let batch = decode_batches(restamped.clone()).next().unwrap().unwrap();
        prop_assert_eq!((batch.producer_id, batch.producer_epoch, batch.base_sequence), (pid, epoch, seq));
        prop_assert!(batch.is_transactional());
        // Decoding verifies the CRC; the records are the original ones.
        prop_assert_eq!(all_records(restamped), all_records(original));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        // Errors are fine; panics are not. Iterate everything that decodes.
        for b in decode_batches_with_limit(Bytes::from(data), 1 << 20).flatten() {
            for r in b.records() { let _ = r; }
        }
    }

    #[test]
    fn mutated_batches_never_panic(recs in prop::collection::vec(record_strategy(), 1..10), idx in 0usize..5, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = write(Compression::ALL[idx], 0, &recs).to_vec();
        for (pos, val) in flips {
            let n = bytes.len();
            bytes[pos % n] = val;
        }
        // Errors are fine; panics are not. Iterate everything that decodes.
        for b in decode_batches_with_limit(Bytes::from(bytes), 1 << 20).flatten() {
            for r in b.records() { let _ = r; }
        }
    }
}

#[test]
fn crc_mismatch_is_a_typed_error_and_the_next_batch_still_decodes() {
    let a = write(
        Compression::None,
        0,
        &[(0, None, Some(b"a".to_vec()), vec![])],
    );
    let b = write(
        Compression::None,
        0,
        &[(0, None, Some(b"b".to_vec()), vec![])],
    );
    let mut data = BytesMut::new();
    data.extend_from_slice(&a);
    data.extend_from_slice(&b);
    let last = a.len() - 1;
    data[last] ^= 0xff; // corrupt the first batch's last value byte
    let results: Vec<_> = decode_batches(data.freeze()).collect();
    assert_eq!(results.len(), 2);
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(err, kafkit::Error::Records { .. }) && err.to_string().contains("CRC"),
        "{err}"
    );
    assert!(results[1].is_ok());
}

#[test]
fn truncated_last_batch_ends_cleanly() {
    let a = write(
        Compression::Lz4,
        0,
        &[(0, None, Some(vec![1; 100]), vec![])],
    );
    let b = write(
        Compression::None,
        0,
        &[(0, None, Some(vec![2; 100]), vec![])],
    );
    let mut data = BytesMut::new();
    data.extend_from_slice(&a);
    data.extend_from_slice(&b[..b.len() - 10]);
    let batches: Vec<_> = decode_batches(data.freeze()).collect();
    assert_eq!(batches.len(), 1);
    assert!(batches[0].is_ok());
    // Fewer bytes than a header: nothing, no error.
    assert_eq!(decode_batches(Bytes::from_static(&[0; 10])).count(), 0);
}

#[test]
fn undersized_batch_length_is_an_error_not_a_loop() {
    let mut data = BytesMut::new();
    data.put_i64(0);
    data.put_i32(3);
    data.put_i32(0);
    data.put_i8(2);
    data.put_bytes(0, 60);
    let results: Vec<_> = decode_batches(data.freeze()).collect();
    assert_eq!(results.len(), 1);
    assert!(results[0].is_err());
}

#[test]
fn control_batches_carry_markers() {
    for (kind, epoch) in [(ControlType::Commit, 5), (ControlType::Abort, 0)] {
        let bytes = BatchWriter::control(
            ControlRecord {
                kind,
                coordinator_epoch: epoch,
            },
            1234,
            9,
            1,
        )
        .unwrap();
        let batch = decode_batches(bytes).next().unwrap().unwrap();
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!((batch.producer_id, batch.producer_epoch), (9, 1));
        let rec = batch.records().next().unwrap().unwrap();
        let marker = ControlRecord::decode(&rec).unwrap();
        assert_eq!(
            marker,
            ControlRecord {
                kind,
                coordinator_epoch: epoch
            }
        );
    }
}

#[test]
fn empty_records_and_null_fields() {
    let bytes = write(
        Compression::Zstd,
        5,
        &[(0, None, None, vec![("h".into(), None)])],
    );
    let recs = all_records(bytes);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].key.is_none() && recs[0].value.is_none());
    assert_eq!(recs[0].headers[0].key_str(), Some("h"));
    assert!(recs[0].headers[0].value.is_none());
}

/// A legacy message, built by hand from the documented format.
fn legacy_message(
    offset: i64,
    magic: i8,
    attributes: i8,
    ts: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i8(magic);
    body.put_i8(attributes);
    if magic == 1 {
        body.put_i64(ts);
    }
    for f in [key, value] {
        match f {
            None => body.put_i32(-1),
            Some(b) => {
                body.put_i32(b.len() as i32);
                body.put_slice(b);
            }
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    let mut out = BytesMut::new();
    out.put_i64(offset);
    out.put_i32(body.len() as i32 + 4);
    out.put_u32(crc.sum());
    out.put_slice(&body);
    out.to_vec()
}

#[test]
fn legacy_v0_and_v1_plain_messages_decode() {
    let mut data = legacy_message(10, 0, 0, 0, Some(b"k0"), Some(b"v0"));
    data.extend(legacy_message(11, 1, 0, 777, None, Some(b"v1")));
    let batches: Vec<_> = decode_batches(Bytes::from(data))
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].magic, 0);
    let r0 = batches[0].records().next().unwrap().unwrap();
    assert_eq!(
        (r0.offset, r0.timestamp, r0.key.as_deref()),
        (10, -1, Some(&b"k0"[..]))
    );
    let r1 = batches[1].records().next().unwrap().unwrap();
    assert_eq!(
        (r1.offset, r1.timestamp, r1.value.as_deref()),
        (11, 777, Some(&b"v1"[..]))
    );
    assert_eq!(batches[1].timestamp_type(), TimestampType::CreateTime);
}

#[test]
fn legacy_v1_gzip_wrapper_uses_relative_inner_offsets() {
    let mut inner = Vec::new();
    for i in 0..3i64 {
        inner.extend(legacy_message(
            i,
            1,
            0,
            100 + i,
            None,
            Some(format!("m{i}").as_bytes()),
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &inner).unwrap();
    let compressed = gz.finish().unwrap();
    // Wrapper offset is the absolute offset of the last inner message.
    let data = legacy_message(52, 1, 1, 100, None, Some(&compressed));
    let batch = decode_batches(Bytes::from(data)).next().unwrap().unwrap();
    let recs: Vec<Record> = batch.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [50, 51, 52]
    );
    assert_eq!(recs[2].value.as_deref(), Some(&b"m2"[..]));
    assert_eq!((batch.base_offset, batch.last_offset()), (50, 52));
}

#[test]
fn legacy_crc_mismatch_is_rejected() {
    let mut data = legacy_message(0, 1, 0, 1, None, Some(b"x"));
    let n = data.len();
    data[n - 1] ^= 1;
    assert!(decode_batches(Bytes::from(data)).next().unwrap().is_err());
}

#[test]
fn zero_copy_uncompressed_values_share_the_input() {
    let bytes = write(
        Compression::None,
        0,
        &[(0, Some(b"key".to_vec()), Some(vec![9; 64]), vec![])],
    );
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    let rec = all_records(bytes.clone()).remove(0);
    let value_ptr = rec.value.as_ref().unwrap().as_ptr() as usize;
    assert!(range.contains(&value_ptr), "value was copied");
}
