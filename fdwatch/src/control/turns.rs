//! The collector's side of the queries: those waiting, and the one being answered a
//! slice per turn of its loop ([`RECORDS_PER_TURN`] records), so that answering never
//! holds the ring drain back for long; the next starts once it is sent.
use std::collections::VecDeque;

use tokio::sync::oneshot;

use super::{answer::Reply, protocol::Query};
use crate::{clock::Clock, model::Model};

/// `fd` records rendered per turn of the collector loop: about a millisecond of work.
pub const RECORDS_PER_TURN: usize = 1000;

#[derive(Default)]
pub struct Turns {
    /// Queries that arrived while another was being answered (at most
    /// server::MAX_CLIENTS: one per client).
    queued: VecDeque<Query>,
    current: Option<(oneshot::Sender<Vec<u8>>, Reply)>,
}

impl Turns {
    /// A query to answer after the ones before it.
    pub fn push(&mut self, query: Query) {
        self.queued.push_back(query);
    }

    /// Whether there is work for the next turn.
    pub fn busy(&self) -> bool {
        self.current.is_some() || !self.queued.is_empty()
    }

    /// The query to start now, if none is being answered.
    pub fn to_start(&mut self) -> Option<Query> {
        if self.current.is_some() { None } else { self.queued.pop_front() }
    }

    /// Answer `reply` to the client behind `to`, from the next [`Turns::work`] on.
    pub fn start(&mut self, to: oneshot::Sender<Vec<u8>>, reply: Reply) {
        self.current = Some((to, reply));
    }

    /// One turn's slice of the reply being rendered; a complete one goes to its client
    /// (one that gave up has dropped its receiver: its task counted it).
    pub fn work(&mut self, model: &Model, clock: &Clock) {
        let Some((_, reply)) = &mut self.current else { return };
        if reply.render_some(model, clock, RECORDS_PER_TURN) {
            if let Some((to, reply)) = self.current.take() {
                let _ = to.send(reply.into_bytes());
            }
        }
    }
}
