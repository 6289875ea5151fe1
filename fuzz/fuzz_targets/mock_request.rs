//! Request frames over arbitrary bytes, as the embedded test cluster
//! (`kafkit::mock`) reads them from a socket: frame splitting, the request
//! header, the API and version check, and every hosted request body through
//! the allocation guard. A panic or an out-of-memory report here is a hole
//! a hostile client could use against a test cluster.
#![no_main]

use bytes::BytesMut;
use kafkit::protocol::frame::split_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf, 1 << 20) {
        let _ = kafkit::mock::decode_request_frame(frame);
    }
});
