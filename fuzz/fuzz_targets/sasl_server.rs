//! What a broker sends during SASL authentication, over arbitrary bytes:
//! SCRAM server-first and server-final messages (nonce, salt, iteration
//! count, `e=` errors, signatures), PLAIN's and OAUTHBEARER's answers and
//! error challenges. The first byte picks the mechanism; the rest is split
//! at NUL bytes into the server's messages. Every input must end the
//! exchange (with an error or done), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let messages: Vec<&[u8]> = rest.split(|&b| b == 0).take(4).collect();
    kafkit::sasl::fuzz_server_messages(selector, &messages);
});
