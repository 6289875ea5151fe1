//! The admin client: topics, cluster description and offsets.
//!
//! Results are per item, as in the Java `Admin`: the outer `Result` fails
//! only when the request as a whole could not be made (no broker reachable,
//! client closed); each topic or partition then carries its own `Result`.

mod offsets;
mod topics;

use crate::client::Client;

pub use offsets::{ListedOffset, OffsetSpec};
pub use topics::{ClusterDescription, NewTopic, TopicListing};

/// Admin operations on the cluster. Built with [`Client::admin`]; shares the
/// client's connections and metadata.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
}

impl Admin {
    pub(crate) fn new(client: Client) -> Admin {
        Admin { client }
    }

    /// The client this admin uses.
    pub fn client(&self) -> &Client {
        &self.client
    }
}
