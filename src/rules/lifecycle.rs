//! The episode lifecycle: one episode per (zone, violation type). An episode `start`s when its
//! condition has held for the zone's confirmation time, sends `update`s while it persists and its
//! count, extent or sub-type changes, and `end`s when the condition has been absent for the zone's
//! clear time. After an end, the same zone and violation stay quiet for the cooldown, so a stall
//! that stays all afternoon is one case, not hundreds.
//!
//! Episodes open when the service stopped (SIGTERM, a crash, kill -9) are `carry`d into the next
//! run: seen again and confirmed within their grace, they go on under the same episode (an
//! `update` with reason `resumed`); not seen, they `end` with reason `not_seen_after_restart`, so
//! no case is left open by a restart and none is split in two.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Observation, ViolationType};
use crate::calibration::Zone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Start,
    Update,
    End,
}

/// Why an episode ended, or why it went on after a restart. Absent on ordinary starts and
/// updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The condition was absent for the zone's clear time: cleared on camera.
    Cleared,
    /// The footage ended with the episode open (replay).
    FootageEnded,
    /// Open when the service stopped, seen and confirmed again after its restart.
    Resumed,
    /// Open when the service stopped (or its camera's configuration was reloaded), not
    /// confirmed again within its grace afterwards.
    NotSeenAfterRestart,
    /// Its camera or zone is no longer in the configuration (a reload or a restart with a changed
    /// configuration): it cannot be followed.
    Reconfigured,
}

/// A lifecycle event with the observation it is about (for `end`: the last one seen).
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    pub phase: Phase,
    pub reason: Option<Reason>,
    /// Sequence number of the episode within this camera (1, 2, …).
    pub episode: u64,
    /// Media time the condition was first seen.
    pub first_seen: f64,
    /// Media time the episode was confirmed (its start).
    pub confirmed_at: f64,
    /// Media time the condition was last seen.
    pub last_seen: f64,
    /// Media time of this event.
    pub at: f64,
    pub observation: Observation,
}

#[derive(Debug, Clone)]
struct State {
    episode: Option<u64>,
    first_seen: f64,
    confirmed_at: f64,
    last_seen: f64,
    last_update: f64,
    last: Observation,
}

/// Minimum seconds between two updates of one episode.
pub const UPDATE_INTERVAL: f64 = 5.0;
/// A pending (not yet confirmed) condition unseen for this long starts again from zero.
pub const PENDING_GAP: f64 = 3.0;

/// An episode open when the previous run stopped, with its times on this run's media timeline
/// (negative: before this run started).
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub first_seen: f64,
    pub confirmed_at: f64,
    pub last_seen: f64,
    /// Its last observation (its zone and violation type say which condition it is).
    pub observation: Observation,
    /// Seconds, from the first frame this run analyses, within which it must be confirmed again.
    pub grace: f64,
}

type Key = (usize, ViolationType);

#[derive(Debug, Default)]
pub struct Episodes {
    states: BTreeMap<Key, State>,
    cooldown_until: BTreeMap<Key, f64>,
    /// Carried episodes not yet resumed or ended: their number, deadline (set by the first
    /// update) and what they were.
    carried: BTreeMap<Key, (u64, Option<f64>, Carried)>,
    next_episode: u64,
}

fn changed(a: &Observation, b: &Observation) -> bool {
    let (ma, mb) = (&a.measures, &b.measures);
    let rel = |x: Option<f64>, y: Option<f64>, tol: f64| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() > tol * x.abs().max(y.abs()).max(1e-9),
        (None, None) => false,
        _ => true,
    };
    a.subtype != b.subtype
        || ma.count != mb.count
        || ma.people != mb.people
        || rel(ma.occupied_area_m2, mb.occupied_area_m2, 0.2)
        || rel(ma.clear_width_m, mb.clear_width_m, 0.1)
}

impl Episodes {
    pub fn new() -> Episodes {
        Episodes::default()
    }

    /// Number of episodes open (confirmed and not ended, carried ones included).
    pub fn open(&self) -> usize {
        self.states.values().filter(|s| s.episode.is_some()).count() + self.carried.len()
    }

    /// Each open episode's number and the media time it was last seen (carried ones included).
    pub fn open_episodes(&self) -> Vec<(u64, f64)> {
        let live = self
            .states
            .values()
            .filter_map(|s| s.episode.map(|e| (e, s.last_seen)));
        let carried = self.carried.values().map(|(e, _, c)| (*e, c.last_seen));
        live.chain(carried).collect()
    }

    /// Takes over an episode the previous run left open and returns its number in this run; `None`
    /// when one is already carried for its zone and violation (the caller ends it).
    pub fn carry(&mut self, c: Carried) -> Option<u64> {
        let key = (c.observation.zone, c.observation.event_type);
        if self.carried.contains_key(&key) {
            return None;
        }
        self.next_episode += 1;
        self.carried.insert(key, (self.next_episode, None, c));
        Some(self.next_episode)
    }

    /// Feeds the observations made at time `t`; returns the lifecycle events they cause.
    pub fn update(
        &mut self,
        t: f64,
        zones: &[Zone],
        observations: Vec<Observation>,
    ) -> Vec<LifecycleEvent> {
        let mut events = Vec::new();
        let mut seen = Vec::new();
        for obs in observations {
            let key = (obs.zone, obs.event_type);
            if self
                .cooldown_until
                .get(&key)
                .is_some_and(|&until| t < until)
            {
                continue;
            }
            let zone = &zones[obs.zone];
            seen.push(key);
            let st = self.states.entry(key).or_insert_with(|| State {
                episode: None,
                first_seen: t,
                confirmed_at: t,
                last_seen: t,
                last_update: t,
                last: obs.clone(),
            });
            match st.episode {
                None => {
                    if t - st.last_seen > PENDING_GAP.min(zone.clear_seconds.max(0.5)) {
                        st.first_seen = t;
                    }
                    st.last_seen = t;
                    st.last = obs;
                    if t - st.first_seen >= zone.confirm_seconds {
                        st.last_update = t;
                        if let Some((n, _, c)) = self.carried.remove(&key) {
                            // Seen again after a restart: the same case goes on.
                            st.episode = Some(n);
                            st.first_seen = c.first_seen;
                            st.confirmed_at = c.confirmed_at;
                            events.push(event(Phase::Update, st, t, Some(Reason::Resumed)));
                        } else {
                            self.next_episode += 1;
                            st.episode = Some(self.next_episode);
                            st.confirmed_at = t;
                            events.push(event(Phase::Start, st, t, None));
                        }
                    }
                }
                Some(_) => {
                    st.last_seen = t;
                    let due = t - st.last_update >= UPDATE_INTERVAL;
                    let differs = changed(&st.last, &obs);
                    st.last = obs;
                    if differs && due {
                        st.last_update = t;
                        events.push(event(Phase::Update, st, t, None));
                    }
                }
            }
        }
        // Conditions not seen now: pending ones lapse, confirmed ones end after the clear time.
        let mut ended = Vec::new();
        self.states.retain(|key, st| {
            if seen.contains(key) {
                return true;
            }
            let zone = &zones[key.0];
            match st.episode {
                None => t - st.last_seen <= PENDING_GAP.min(zone.clear_seconds.max(0.5)),
                Some(_) if t - st.last_seen >= zone.clear_seconds => {
                    events.push(event(Phase::End, st, t, Some(Reason::Cleared)));
                    ended.push((*key, t + zone.cooldown_seconds));
                    false
                }
                Some(_) => true,
            }
        });
        self.cooldown_until.extend(ended);
        // Carried episodes not confirmed again within their grace end.
        let mut lapsed = Vec::new();
        for (key, (n, deadline, c)) in self.carried.iter_mut() {
            let deadline = *deadline.get_or_insert(t + c.grace);
            if t >= deadline {
                lapsed.push(*key);
                events.push(carried_end(*n, c, t, Reason::NotSeenAfterRestart));
            }
        }
        for key in lapsed {
            self.carried.remove(&key);
        }
        events
    }

    /// Ends every open episode (end of the footage or shutdown).
    pub fn finish(&mut self, t: f64) -> Vec<LifecycleEvent> {
        let mut events: Vec<LifecycleEvent> = self
            .states
            .values()
            .filter(|s| s.episode.is_some())
            .map(|s| event(Phase::End, s, t, Some(Reason::FootageEnded)))
            .collect();
        events.extend(
            self.carried
                .values()
                .map(|(n, _, c)| carried_end(*n, c, t, Reason::NotSeenAfterRestart)),
        );
        self.states.clear();
        self.carried.clear();
        events
    }
}

fn carried_end(episode: u64, c: &Carried, at: f64, reason: Reason) -> LifecycleEvent {
    LifecycleEvent {
        phase: Phase::End,
        reason: Some(reason),
        episode,
        first_seen: c.first_seen,
        confirmed_at: c.confirmed_at,
        last_seen: c.last_seen,
        at,
        observation: c.observation.clone(),
    }
}

fn event(phase: Phase, st: &State, at: f64, reason: Option<Reason>) -> LifecycleEvent {
    LifecycleEvent {
        phase,
        reason,
        episode: st.episode.unwrap_or(0),
        first_seen: st.first_seen,
        confirmed_at: st.confirmed_at,
        last_seen: st.last_seen,
        at,
        observation: st.last.clone(),
    }
}
