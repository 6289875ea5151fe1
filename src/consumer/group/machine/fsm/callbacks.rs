//! The user's rebalance callbacks, one at a time.
//!
//! Java runs `onPartitionsRevoked`, `onPartitionsAssigned` and
//! `onPartitionsLost` on the polling thread, so they never overlap. Here the
//! driver runs them, and the machine hands out the next one only when the
//! previous one's `*Done` event has arrived.

use std::collections::{BTreeSet, VecDeque};

use crate::TopicPartition;
use crate::consumer::group::machine::Action;

/// Which callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallbackKind {
    Revoke,
    Assign,
    Lose,
}

#[derive(Debug, Default)]
pub(super) struct Callbacks {
    outstanding: Option<(CallbackKind, Vec<TopicPartition>)>,
    queue: VecDeque<(CallbackKind, Vec<TopicPartition>)>,
}

impl Callbacks {
    /// No callback running and none waiting.
    pub(super) fn idle(&self) -> bool {
        self.outstanding.is_none() && self.queue.is_empty()
    }

    pub(super) fn push(&mut self, kind: CallbackKind, partitions: Vec<TopicPartition>) {
        self.queue.push_back((kind, partitions));
    }

    /// Forgets the callbacks not yet handed out (membership failed: an
    /// assignment queued behind a running revoke no longer holds).
    pub(super) fn drop_queued(&mut self) {
        self.queue.clear();
    }

    /// Hands out the next queued callback if none is running. Assigned
    /// partitions are owned from the moment the driver is told to consume
    /// them; revoked and lost ones stay owned until the user's callback
    /// returns, so that it can still commit revoked ones.
    pub(super) fn emit_next(
        &mut self,
        owned: &mut BTreeSet<TopicPartition>,
        out: &mut Vec<Action>,
    ) {
        if self.outstanding.is_some() {
            return;
        }
        let Some((kind, partitions)) = self.queue.pop_front() else {
            return;
        };
        out.push(match kind {
            CallbackKind::Assign => {
                owned.extend(partitions.iter().cloned());
                Action::Assign(partitions.clone())
            }
            CallbackKind::Revoke => Action::Revoke(partitions.clone()),
            CallbackKind::Lose => Action::Lose(partitions.clone()),
        });
        self.outstanding = Some((kind, partitions));
    }

    /// The user's callback of `kind` returned. Returns false (and changes
    /// nothing) if that is not the callback running.
    pub(super) fn done(
        &mut self,
        kind: CallbackKind,
        owned: &mut BTreeSet<TopicPartition>,
    ) -> bool {
        match &self.outstanding {
            Some((k, _)) if *k == kind => {}
            _ => return false,
        }
        if let Some((_, partitions)) = self.outstanding.take()
            && kind != CallbackKind::Assign
        {
            for tp in &partitions {
                owned.remove(tp);
            }
        }
        true
    }
}
