//! Carrying out the group machine's actions: each request, coordinator
//! lookup and leader assignment runs as a task of its own, and its answer
//! comes back to the loop as a [`Completion`] to feed the machine. Kept
//! apart from the loop so that the request plumbing (spans, fallbacks for
//! tasks that die) reads on its own.

use bytes::Bytes;
use tokio::task::Id as TaskId;
use tracing::Instrument;

use super::Driver;
use super::offset_calls::{CommitOp, Committed, FetchOp, Standalone};
use crate::consumer::assignor::wire::{MAX_VERSION, encode_subscription};
use crate::consumer::assignor::{RebalanceProtocol, Subscription};
use crate::consumer::group::driver::assign::{self, Computed};
use crate::consumer::group::driver::handle::{RebalanceEvent, RebalanceKind};
use crate::consumer::group::driver::offsets::{CommitIdentity, Outcome};
use crate::consumer::group::machine::{Action, Event, GroupState, JoinGroup, Request};
use crate::error::Context;
use crate::net::pool::lock;
use crate::{Error, ErrorCode, Result, TopicPartition};

/// What a finished task hands back to the loop.
pub(super) enum Completion {
    /// An answer for the machine, and an error for the user to see.
    Machine {
        event: Event,
        raise: Option<Error>,
    },
    /// The leader's assignment for `generation_id`.
    Assignment {
        generation_id: i32,
        result: Result<Computed>,
    },
    /// The coordinator the driver looked up itself (see `standalone`).
    Standalone(Result<i32>),
    Commit {
        op: CommitOp,
        identity: CommitIdentity,
        outcome: Outcome<()>,
    },
    Fetch {
        op: FetchOp,
        outcome: Outcome<Committed>,
    },
    Nothing,
}

impl Driver {
    pub(super) fn carry_out(&mut self, action: Action) {
        match action {
            Action::FindCoordinator => {
                let io = self.io.clone();
                let fallback = Event::FindCoordinatorFailed {
                    error: task_ended("FindCoordinator"),
                };
                self.spawn(Some(fallback), async move {
                    let event = match io.find_coordinator().await {
                        Ok(node_id) => {
                            tracing::debug!(coordinator = node_id, "coordinator found");
                            Event::CoordinatorFound { node_id }
                        }
                        Err(error) => {
                            tracing::debug!(%error, "FindCoordinator failed");
                            Event::FindCoordinatorFailed { error }
                        }
                    };
                    Completion::Machine { event, raise: None }
                });
            }
            Action::Send {
                coordinator,
                request,
            } => self.send(coordinator, request),
            Action::ComputeAssignment {
                generation_id,
                protocol_name,
                leader_id,
                members,
            } => {
                let span = tracing::debug_span!(
                    "assign",
                    generation = generation_id,
                    member_id = %leader_id,
                    assignor = %protocol_name,
                    members = members.len()
                );
                let client = self.io.client.clone();
                let assignors = self.config.assignors.clone();
                let fallback = Event::AssignmentFailed {
                    error: task_ended("assignor"),
                };
                self.spawn(
                    Some(fallback),
                    async move {
                        let result =
                            assign::compute(client, assignors, protocol_name, members).await;
                        Completion::Assignment {
                            generation_id,
                            result,
                        }
                    }
                    .instrument(span),
                );
            }
            Action::Revoke(partitions) => self.callback(RebalanceKind::Revoked, partitions),
            Action::Assign(partitions) => self.callback(RebalanceKind::Assigned, partitions),
            Action::Lose(partitions) => self.callback(RebalanceKind::Lost, partitions),
            Action::CoordinatorUnknown => {
                tracing::debug!("coordinator unknown");
                self.io.close_group_connection();
            }
            Action::Raise(error) => {
                tracing::warn!(%error, "group membership error");
                self.shared.raise(error);
            }
            Action::Fatal(error) => {
                tracing::error!(%error, "group membership failed");
                let _ = self.shared.fatal.set(error.clone());
                for op in std::mem::take(&mut self.waiting_ops) {
                    let commit = op.fail(error.clone());
                    self.count_commit(commit, false);
                }
            }
            Action::Closed => {
                tracing::debug!("left the group");
                self.closed = true;
            }
        }
    }

    fn callback(&mut self, kind: RebalanceKind, partitions: Vec<TopicPartition>) {
        self.callback_seq += 1;
        let seq = self.callback_seq;
        self.callback = Some((seq, kind));
        tracing::debug!(?kind, partitions = partitions.len(), "rebalance callback");
        let Some(ack) = self.commands_tx.upgrade() else {
            // Every handle is gone: the loop ends at its next turn.
            return;
        };
        let _ = self
            .events
            .send(RebalanceEvent::new(kind, partitions, seq, ack));
    }

    fn send(&mut self, coordinator: i32, request: Request) {
        let kind = request.kind();
        let protocols = match &request {
            Request::JoinGroup(join) => match self.protocols(join) {
                Ok(p) => p,
                Err(error) => {
                    self.queued.push_back(Event::RequestFailed {
                        request: kind,
                        error,
                    });
                    return;
                }
            },
            _ => Vec::new(),
        };
        let span = request_span(&request, coordinator);
        let io = self.io.clone();
        let fallback = Event::RequestFailed {
            request: kind,
            error: task_ended("coordinator request"),
        };
        self.spawn(
            Some(fallback),
            async move {
                let (event, raise) = match io
                    .coordinator_request(coordinator, request, protocols)
                    .await
                {
                    Ok(answer) => answer,
                    Err(error) => {
                        tracing::debug!(%error, "request failed");
                        (
                            Event::RequestFailed {
                                request: kind,
                                error,
                            },
                            None,
                        )
                    }
                };
                Completion::Machine { event, raise }
            }
            .instrument(span),
        );
    }

    /// One `(assignor name, subscription)` per configured assignor, in
    /// preference order, for the JoinGroup.
    fn protocols(&self, join: &JoinGroup) -> Result<Vec<(String, Bytes)>> {
        let topics: Vec<String> = join.topics.iter().map(|t| t.to_string()).collect();
        // Eager members revoked everything before rejoining; sticky
        // assignors still want what they had (Java keeps it in the assignor).
        let (owned, generation) = match self.machine.config().protocol {
            RebalanceProtocol::Cooperative => (
                join.owned_partitions.clone(),
                (join.generation_id >= 0).then_some(join.generation_id),
            ),
            RebalanceProtocol::Eager => (self.last_assignment.clone(), self.last_generation),
        };
        self.config
            .assignors
            .iter()
            .map(|assignor| {
                let subscription = Subscription {
                    topics: topics.clone(),
                    user_data: assignor.subscription_user_data(&topics, &owned, generation),
                    owned_partitions: join.owned_partitions.clone(),
                    generation_id: (join.generation_id >= 0).then_some(join.generation_id),
                    rack_id: self.config.client_rack.clone(),
                };
                Ok((
                    assignor.name().to_owned(),
                    encode_subscription(&subscription, MAX_VERSION)?,
                ))
            })
            .collect()
    }

    pub(super) fn spawn<F>(&mut self, fallback: Option<Event>, task: F) -> TaskId
    where
        F: std::future::Future<Output = Completion> + Send + 'static,
    {
        let handle = self.tasks.spawn(task);
        if let Some(event) = fallback {
            self.fallbacks.insert(handle.id(), event);
        }
        handle.id()
    }

    pub(super) fn on_task_done(
        &mut self,
        done: std::result::Result<(TaskId, Completion), tokio::task::JoinError>,
    ) {
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        if self.commit_task == Some(id) {
            // The commit in flight ended (answered, or its task died): the
            // next queued commit may go.
            self.commit_task = None;
        }
        let completion = match done {
            Ok((id, completion)) => {
                self.fallbacks.remove(&id);
                completion
            }
            Err(e) => {
                // A task that panicked or was aborted still owes the machine
                // its answer.
                match self.fallbacks.remove(&e.id()) {
                    Some(event) => Completion::Machine { event, raise: None },
                    None => Completion::Nothing,
                }
            }
        };
        match completion {
            Completion::Machine { event, raise } => {
                if let Some(error) = raise {
                    self.shared.raise(error);
                }
                let synced = match &event {
                    Event::SyncGroupResponse(r) if r.error == ErrorCode::NONE => {
                        Some(r.assignment.clone())
                    }
                    _ => None,
                };
                match &event {
                    Event::CoordinatorFound { node_id } => {
                        self.standalone = Standalone::Known(*node_id);
                    }
                    Event::LeaveGroupResponse { error } => {
                        tracing::debug!(error = %error.name(), "LeaveGroup answered");
                        lock(&self.shared.metrics).left_group = *error == ErrorCode::NONE;
                    }
                    _ => {}
                }
                self.feed(event);
                if let Some(assignment) = synced
                    && self.machine.state() == GroupState::Stable
                {
                    self.last_assignment = assignment;
                    self.last_generation = Some(self.machine.generation().generation_id);
                }
            }
            Completion::Assignment {
                generation_id,
                result,
            } => {
                // An assignment for a generation the machine left behind
                // must not be sent for the new one.
                let current = self.machine.state() == GroupState::Assigning
                    && self.machine.generation().generation_id == generation_id;
                if !current {
                    return;
                }
                match result {
                    Ok(computed) => {
                        self.assigned_counts = computed.counts;
                        self.feed(Event::AssignmentComputed {
                            assignments: computed.assignments,
                        });
                    }
                    Err(error) => self.feed(Event::AssignmentFailed { error }),
                }
            }
            Completion::Standalone(result) => {
                self.standalone = match result {
                    Ok(id) => Standalone::Known(id),
                    Err(_) => Standalone::Unknown,
                };
            }
            Completion::Commit {
                op,
                identity,
                outcome,
            } => self.on_commit_outcome(op, identity, outcome),
            Completion::Fetch { op, outcome } => self.on_fetch_outcome(op, outcome),
            Completion::Nothing => {}
        }
    }
}

fn request_span(request: &Request, coordinator: i32) -> tracing::Span {
    match request {
        Request::JoinGroup(j) => tracing::debug_span!(
            "JoinGroup",
            coordinator,
            member_id = %j.member_id,
            generation = j.generation_id,
            reason = %j.reason
        ),
        Request::SyncGroup(s) => tracing::debug_span!(
            "SyncGroup",
            coordinator,
            member_id = %s.member_id,
            generation = s.generation_id,
            leader = !s.assignments.is_empty()
        ),
        Request::Heartbeat(h) => tracing::trace_span!(
            "Heartbeat",
            coordinator,
            member_id = %h.member_id,
            generation = h.generation_id
        ),
        Request::LeaveGroup(l) => tracing::debug_span!(
            "LeaveGroup",
            coordinator,
            member_id = %l.member_id,
            reason = %l.reason
        ),
    }
}

fn task_ended(what: &str) -> Error {
    Error::Disconnected {
        reason: format!("{what} task ended without an answer").into(),
        context: Context::default(),
    }
}
