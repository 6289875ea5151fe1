//! Pattern subscription (Java's `subscribe(Pattern)`): the group
//! subscription follows the cluster's topics whose names match a regular
//! expression.
//!
//! A task lists the cluster's topics every `metadata.max.age.ms` (as the
//! Java consumer re-matches on each metadata refresh) and, when the
//! matching set changes, resubscribes the member, which rebalances the
//! group. Internal topics never match (Java's `exclude.internal.topics`
//! default).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regex::Regex;

use super::driver::MembershipHandle;
use crate::client::Client;
use crate::error::{Error, Result};

/// Compiles `pattern` so that it must match a whole topic name, as Java's
/// `Pattern.matcher(topic).matches()` does (`"orders"` does not match
/// `"orders-eu"`; write `"orders.*"` for that).
pub(crate) fn compile(pattern: &str) -> Result<Regex> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| Error::InvalidArgument {
        reason: format!("invalid topic pattern {pattern:?}: {e}"),
        context: Default::default(),
    })
}

/// The running matcher; dropping it stops the task (a new `subscribe` or
/// `subscribe_pattern`, or the consumer going away).
#[derive(Debug)]
pub(crate) struct PatternWatch {
    task: tokio::task::JoinHandle<()>,
    stopped: Arc<AtomicBool>,
    subscription: Arc<Mutex<Vec<String>>>,
}

impl Drop for PatternWatch {
    fn drop(&mut self) {
        // Set under the subscription lock, which the task holds while it
        // resubscribes: once this returns the task can no longer overwrite
        // a subscription made after it (abort alone only stops it at its
        // next await).
        let _guard = lock(&self.subscription);
        self.stopped.store(true, Ordering::Release);
        self.task.abort();
    }
}

fn lock(m: &Mutex<Vec<String>>) -> MutexGuard<'_, Vec<String>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PatternWatch {
    /// Starts matching `regex` against the cluster's topics, writing each
    /// new matching set to `subscription` and subscribing `member` to it.
    pub(crate) fn start(
        client: Client,
        regex: Regex,
        member: MembershipHandle,
        subscription: Arc<Mutex<Vec<String>>>,
    ) -> PatternWatch {
        let every = client.metadata_max_age();
        let stopped = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(watch(
            client,
            regex,
            member,
            subscription.clone(),
            stopped.clone(),
            every,
        ));
        PatternWatch {
            task,
            stopped,
            subscription,
        }
    }
}

async fn watch(
    client: Client,
    regex: Regex,
    member: MembershipHandle,
    subscription: Arc<Mutex<Vec<String>>>,
    stopped: Arc<AtomicBool>,
    every: Duration,
) {
    let admin = crate::admin::Admin::new(&client);
    // None until the first listing: even an empty match must be sent once,
    // so that the member joins (with nothing to read) as Java's does.
    let mut current: Option<Vec<String>> = None;
    loop {
        let pause = match admin.list_topics().await {
            Ok(topics) => {
                // Listed sorted by name, so equal sets compare equal.
                let matched: Vec<String> = topics
                    .into_iter()
                    .map(|t| t.name)
                    .filter(|name| regex.is_match(name))
                    .collect();
                if current.as_ref() != Some(&matched) {
                    let mut subscribed = lock(&subscription);
                    if stopped.load(Ordering::Acquire) {
                        return; // replaced by a newer subscription
                    }
                    tracing::debug!(topics = ?matched, "pattern subscription changed");
                    if member.subscribe(matched.clone()).is_err() {
                        return; // the membership has ended: nothing to update
                    }
                    *subscribed = matched.clone();
                    current = Some(matched);
                }
                every
            }
            Err(Error::Closed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "listing topics for a pattern subscription failed");
                client.retry_backoff().max(Duration::from_millis(100))
            }
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_whole_names_only() {
        let r = compile("orders").unwrap();
        assert!(r.is_match("orders"));
        assert!(!r.is_match("orders-eu"));
        assert!(!r.is_match("old-orders"));
        let r = compile("orders-(eu|us)|audit.*").unwrap();
        assert!(r.is_match("orders-eu") && r.is_match("audit-log"));
        assert!(!r.is_match("orders-asia"));
    }

    #[test]
    fn an_invalid_pattern_is_an_invalid_argument() {
        let e = compile("orders(").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert!(e.to_string().contains("orders("), "{e}");
    }
}
