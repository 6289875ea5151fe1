//! Response frames over arbitrary bytes: the frame splitter, correlation
//! peek, response header and body decode for a handful of response types at
//! several versions (old, first flexible, newest we speak).
//!
//! Bodies go through `decode_response`, whose guard refuses counts and
//! lengths larger than the bytes after them before kafka-protocol sizes an
//! allocation from them; an out-of-memory report here means that guard has a
//! hole.
#![no_main]

use bytes::BytesMut;
use kafkit::protocol::frame::{decode_response, peek_correlation_id, split_frame};
use kafkit::protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiVersionsRequest, EndTxnRequest,
    FetchRequest, FindCoordinatorRequest, HeartbeatRequest, InitProducerIdRequest,
    JoinGroupRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest, SyncGroupRequest, TxnOffsetCommitRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the response type and version, so the fuzzer can
    // steer towards one decoder; the rest is the wire.
    let Some((&selector, wire)) = data.split_first() else {
        return;
    };
    let mut buf = BytesMut::from(wire);
    while let Ok(Some(frame)) = split_frame(&mut buf, 1 << 20) {
        let _ = peek_correlation_id(&frame);
        let f = frame.clone();
        match selector % 30 {
            0 => drop(decode_response::<MetadataRequest>(f, 1)),
            1 => drop(decode_response::<MetadataRequest>(f, 9)),
            2 => drop(decode_response::<MetadataRequest>(f, 12)),
            3 => drop(decode_response::<FetchRequest>(f, 4)),
            4 => drop(decode_response::<FetchRequest>(f, 11)),
            5 => drop(decode_response::<FetchRequest>(f, 12)),
            6 => drop(decode_response::<ProduceRequest>(f, 3)),
            7 => drop(decode_response::<ProduceRequest>(f, 9)),
            8 => drop(decode_response::<ProduceRequest>(f, 11)),
            9 => drop(decode_response::<ApiVersionsRequest>(f, 0)),
            10 => drop(decode_response::<ApiVersionsRequest>(f, 3)),
            11 => drop(decode_response::<FindCoordinatorRequest>(f, 1)),
            12 => drop(decode_response::<FindCoordinatorRequest>(f, 3)),
            13 => drop(decode_response::<JoinGroupRequest>(f, 2)),
            14 => drop(decode_response::<JoinGroupRequest>(f, 6)),
            15 => drop(decode_response::<JoinGroupRequest>(f, 9)),
            16 => drop(decode_response::<FetchRequest>(f, 7)),
            17 => drop(decode_response::<SyncGroupRequest>(f, 3)),
            18 => drop(decode_response::<HeartbeatRequest>(f, 3)),
            19 => drop(decode_response::<OffsetCommitRequest>(f, 8)),
            20 => drop(decode_response::<OffsetFetchRequest>(f, 7)),
            21 => drop(decode_response::<OffsetFetchRequest>(f, 8)),
            22 => drop(decode_response::<ListOffsetsRequest>(f, 7)),
            23 => drop(decode_response::<InitProducerIdRequest>(f, 4)),
            24 => drop(decode_response::<AddPartitionsToTxnRequest>(f, 3)),
            25 => drop(decode_response::<AddPartitionsToTxnRequest>(f, 4)),
            26 => drop(decode_response::<EndTxnRequest>(f, 3)),
            27 => drop(decode_response::<AddOffsetsToTxnRequest>(f, 3)),
            28 => drop(decode_response::<TxnOffsetCommitRequest>(f, 3)),
            _ => drop(decode_response::<MetadataRequest>(f, 5)),
        }
    }
});
