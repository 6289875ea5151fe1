//! Creating the topics an example writes to, if they are missing. The one
//! place (besides `quickstart`, which shows the admin calls) where the
//! examples use the admin client.

use kafkit::admin::NewTopic;
use kafkit::{Client, ErrorCode};

/// Creates each of `topics` (name, partitions) with replication factor 1,
/// unless it exists already.
pub async fn create_if_missing(client: &Client, topics: &[(&str, i32)]) -> kafkit::Result<()> {
    let admin = kafkit::Admin::new(client);
    let new = topics
        .iter()
        .map(|&(name, partitions)| NewTopic::new(name, partitions, 1));
    for (_, created) in admin.create_topics(new).await? {
        match created {
            Err(e) if e.code() != Some(ErrorCode::TOPIC_ALREADY_EXISTS) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
