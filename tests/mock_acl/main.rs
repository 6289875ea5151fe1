//! ACLs on kafkit's embedded cluster: an admin super user creates bindings
//! with raw CreateAcls requests; a user without them gets Kafka's typed
//! authorization errors on produce, fetch, group join and transactions,
//! and succeeds once granted; DescribeAcls/DeleteAcls filters (literal,
//! prefixed, match, any) return exactly the expected bindings; librdkafka,
//! an independent client, is refused alike and succeeds once granted.

#[path = "../support/mod.rs"]
mod support;

mod common;

mod admin;
mod clients;
mod filters;
mod librdkafka;
