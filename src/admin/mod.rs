//! The admin client: topics, cluster description, offsets and consumer
//! groups' committed offsets and lag.
//!
//! Results are per item, as in the Java `Admin`: the outer `Result` fails
//! only when the request as a whole could not be made (no broker reachable,
//! client closed); each topic or partition then carries its own `Result`.

mod groups;
mod offsets;
mod topics;

use crate::client::Client;

pub use groups::PartitionLag;
pub use offsets::{ListedOffset, OffsetSpec};
pub use topics::{ClusterDescription, NewTopic, TopicListing};

/// Admin operations on the cluster. Built with [`Admin::new`] from a
/// [`Client`]; shares the client's connections and metadata.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// let client = kafkit::Client::builder("localhost:9092").build().await?;
/// let admin = kafkit::Admin::new(&client);
/// println!("{:?}", admin.list_topics().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
}

impl Admin {
    /// An admin client sharing `client`'s connections and metadata (the
    /// same construction style as `Producer::builder(&client)`).
    pub fn new(client: &Client) -> Admin {
        Admin {
            client: client.clone(),
        }
    }

    /// The client this admin uses.
    pub fn client(&self) -> &Client {
        &self.client
    }
}
