//! Response framing over arbitrary bytes: the frame splitter, correlation
//! peek and response header decode (v0 and v1).
//!
//! Response *bodies* are decoded by the kafka-protocol crate, whose 0.18
//! array decoder pre-allocates from an unchecked wire count and aborts on
//! garbage (upstream PRs #152/#161/#200); fuzzing it here would only find
//! that known bug. See ARCHITECTURE.md, invariant 6.
#![no_main]

use bytes::BytesMut;
use kafkit::protocol::Decodable;
use kafkit::protocol::frame::{peek_correlation_id, split_frame};
use kafkit::protocol::messages::ResponseHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf, 1 << 16) {
        let _ = peek_correlation_id(&frame);
        for version in [0, 1] {
            let _ = ResponseHeader::decode(&mut frame.clone(), version);
        }
    }
});
