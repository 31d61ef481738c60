//! Peer scores and temporary bans, as a pure state machine: time comes in as
//! an argument and the result says whom to ban or unban; the swarm task
//! applies that to the connection block list.
//!
//! Scores start at 0, drop for misbehaviour (undecodable gossip, messages the
//! node rejected, malformed sync answers), rise a little for messages the node
//! accepted, and drift back to 0 over time so an old mistake is forgiven. A
//! peer whose score falls to the threshold is banned for a fixed time and
//! starts again from 0 afterwards.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Longest configurable ban.
const MAX_BAN: Duration = Duration::from_secs(365 * 24 * 3600);

/// Scoring policy.
#[derive(Clone, Debug)]
pub struct ScoreConfig {
    /// Penalty for gossip that does not even decode. Honest nodes never send
    /// it (they only forward what decoded and was accepted), so it is heavy.
    pub undecodable: i32,
    /// Penalty for a message the node judged invalid.
    pub rejected: i32,
    /// Penalty for a sync response that does not answer the request.
    pub bad_response: i32,
    /// Reward for a message the node accepted.
    pub accepted: i32,
    /// Ceiling of the score, so good behaviour buys only a little slack.
    pub max_score: i32,
    /// A score at or below this bans the peer (negative).
    pub ban_threshold: i32,
    /// How long a ban lasts.
    pub ban_duration: Duration,
    /// Time for a score to move one point back towards 0.
    pub recovery: Duration,
    /// Most peers tracked at once; beyond it the least suspicious entry is
    /// forgotten, so peer-id churn cannot grow memory.
    pub max_tracked: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            undecodable: -60,
            rejected: -25,
            bad_response: -30,
            accepted: 1,
            max_score: 20,
            ban_threshold: -100,
            ban_duration: Duration::from_secs(10 * 60),
            recovery: Duration::from_secs(6),
            max_tracked: 4096,
        }
    }
}

impl ScoreConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.ban_threshold >= 0 {
            return Err("ban_threshold must be negative".into());
        }
        if self.undecodable > 0 || self.rejected > 0 || self.bad_response > 0 {
            return Err("penalties must not be positive".into());
        }
        if self.accepted < 0 || self.max_score < 0 {
            return Err("accepted and max_score must not be negative".into());
        }
        if self.ban_duration > MAX_BAN {
            return Err("ban_duration must be at most a year".into());
        }
        if self.recovery.is_zero() || self.max_tracked == 0 {
            return Err("recovery and max_tracked must be positive".into());
        }
        Ok(())
    }
}

/// A kind of misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    Undecodable,
    Rejected,
    BadResponse,
}

#[derive(Clone, Debug)]
struct Entry {
    score: i32,
    banned_until: Option<Instant>,
    // Recovery is counted from here, in whole `recovery` steps.
    last_recovery: Instant,
}

/// Scores of the peers that currently have a non-zero score or a ban.
#[derive(Debug)]
pub struct Scoreboard<P> {
    cfg: ScoreConfig,
    peers: BTreeMap<P, Entry>,
}

impl<P: Ord + Copy> Scoreboard<P> {
    pub fn new(cfg: ScoreConfig) -> Self {
        Scoreboard {
            cfg,
            peers: BTreeMap::new(),
        }
    }

    /// The peer's current score (0 if unknown).
    pub fn score(&self, peer: &P) -> i32 {
        self.peers.get(peer).map_or(0, |e| e.score)
    }

    pub fn is_banned(&self, peer: &P) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|e| e.banned_until.is_some())
    }

    /// Number of tracked peers (bounded by `max_tracked`).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Records a misbehaviour; returns `true` if it has just got the peer
    /// banned (the caller disconnects and blocks it).
    pub fn penalise(&mut self, peer: P, offence: Offence, now: Instant) -> bool {
        let penalty = match offence {
            Offence::Undecodable => self.cfg.undecodable,
            Offence::Rejected => self.cfg.rejected,
            Offence::BadResponse => self.cfg.bad_response,
        };
        let (threshold, duration) = (self.cfg.ban_threshold, self.cfg.ban_duration);
        let entry = self.entry(peer, now);
        if entry.banned_until.is_some() {
            return false;
        }
        entry.score = entry.score.saturating_add(penalty);
        if entry.score <= threshold {
            // `validate` bounds the duration, so this cannot overflow; the
            // fallback only keeps the arithmetic panic-free.
            entry.banned_until = Some(now.checked_add(duration).unwrap_or(now));
            return true;
        }
        false
    }

    /// Records a message the node accepted.
    pub fn reward(&mut self, peer: P, now: Instant) {
        let (gain, max) = (self.cfg.accepted, self.cfg.max_score);
        if gain == 0 {
            return;
        }
        let entry = self.entry(peer, now);
        if entry.banned_until.is_none() {
            entry.score = entry.score.saturating_add(gain).min(max);
        }
    }

    /// Moves scores back towards 0, lifts expired bans and forgets neutral
    /// peers. Returns the peers whose ban ended (the caller unblocks them).
    pub fn tick(&mut self, now: Instant) -> Vec<P> {
        let recovery = self.cfg.recovery;
        let mut unbanned = Vec::new();
        self.peers.retain(|peer, e| {
            if let Some(until) = e.banned_until {
                if now < until {
                    return true;
                }
                unbanned.push(*peer);
                return false;
            }
            let elapsed = now.saturating_duration_since(e.last_recovery);
            let step = recovery.as_nanos().max(1);
            let steps = elapsed.as_nanos() / step;
            if steps > 0 {
                let points = i32::try_from(steps).unwrap_or(i32::MAX);
                e.score = if e.score > 0 {
                    e.score.saturating_sub(points).max(0)
                } else {
                    e.score.saturating_add(points).min(0)
                };
                // Keep the part of a step already served, so frequent ticks
                // recover as fast as rare ones.
                let rest = u64::try_from(elapsed.as_nanos() % step).unwrap_or(0);
                e.last_recovery = now.checked_sub(Duration::from_nanos(rest)).unwrap_or(now);
            }
            e.score != 0
        });
        unbanned
    }

    /// The entry for `peer`, created (evicting if full) when missing.
    fn entry(&mut self, peer: P, now: Instant) -> &mut Entry {
        if !self.peers.contains_key(&peer) && self.peers.len() >= self.cfg.max_tracked {
            self.evict_one();
        }
        self.peers.entry(peer).or_insert(Entry {
            score: 0,
            banned_until: None,
            last_recovery: now,
        })
    }

    /// Forgets the least suspicious peer: the unbanned one with the highest
    /// score, or if every tracked peer is banned, the ban that ends first.
    fn evict_one(&mut self) {
        let victim = self
            .peers
            .iter()
            .filter(|(_, e)| e.banned_until.is_none())
            .max_by_key(|(_, e)| e.score)
            .or_else(|| self.peers.iter().min_by_key(|(_, e)| e.banned_until))
            .map(|(p, _)| *p);
        if let Some(p) = victim {
            self.peers.remove(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Scoreboard<u32> {
        Scoreboard::new(ScoreConfig::default())
    }

    #[test]
    fn two_undecodable_messages_ban_one_does_not() {
        let mut b = board();
        let t = Instant::now();
        assert!(!b.penalise(1, Offence::Undecodable, t));
        assert_eq!(b.score(&1), -60);
        assert!(!b.is_banned(&1));
        assert!(b.penalise(1, Offence::Undecodable, t));
        assert!(b.is_banned(&1));
        // Already banned: no second "banned now".
        assert!(!b.penalise(1, Offence::Rejected, t));
        assert!(!b.is_banned(&2));
    }

    #[test]
    fn rejections_accumulate_to_a_ban() {
        let mut b = board();
        let t = Instant::now();
        let banned: Vec<bool> = (0..4)
            .map(|_| b.penalise(7, Offence::Rejected, t))
            .collect();
        assert_eq!(banned, vec![false, false, false, true]);
    }

    #[test]
    fn ban_expires_and_peer_starts_clean() {
        let mut b = board();
        let t = Instant::now();
        b.penalise(1, Offence::Undecodable, t);
        b.penalise(1, Offence::Undecodable, t);
        assert!(b.tick(t + Duration::from_secs(599)).is_empty());
        assert!(b.is_banned(&1));
        assert_eq!(b.tick(t + Duration::from_secs(600)), vec![1]);
        assert!(!b.is_banned(&1));
        assert_eq!(b.score(&1), 0);
    }

    #[test]
    fn scores_recover_towards_zero_and_are_forgotten() {
        let mut b = board();
        let t = Instant::now();
        b.penalise(1, Offence::Rejected, t); // -25
        b.reward(2, t);
        b.reward(2, t); // +2
        b.tick(t + Duration::from_secs(60)); // 10 steps
        assert_eq!(b.score(&1), -15);
        assert_eq!(b.score(&2), 0);
        assert_eq!(b.len(), 1);
        b.tick(t + Duration::from_secs(60 + 90)); // 15 more
        assert_eq!(b.score(&1), 0);
        assert!(b.is_empty());
    }

    #[test]
    fn recovery_keeps_fractional_progress_between_ticks() {
        let mut b = board();
        let t = Instant::now();
        b.penalise(1, Offence::Rejected, t);
        // Ticks more often than one recovery step must still recover.
        for i in 1..=12 {
            b.tick(t + Duration::from_millis(i * 1000 + 500));
        }
        // 12.5 s at one point per 6 s: exactly 2 points, however it is ticked.
        assert_eq!(b.score(&1), -23);
    }

    #[test]
    fn rewards_are_capped() {
        let mut b = board();
        let t = Instant::now();
        for _ in 0..100 {
            b.reward(3, t);
        }
        assert_eq!(b.score(&3), 20);
        // Slack absorbs one rejection but not a flood of garbage.
        assert!(!b.penalise(3, Offence::Rejected, t));
        assert!(!b.penalise(3, Offence::Undecodable, t));
        assert!(b.penalise(3, Offence::Undecodable, t));
    }

    #[test]
    fn tracking_is_bounded_and_bans_survive_churn() {
        let cfg = ScoreConfig {
            max_tracked: 4,
            ..ScoreConfig::default()
        };
        let mut b = Scoreboard::new(cfg);
        let t = Instant::now();
        b.penalise(0, Offence::Undecodable, t);
        b.penalise(0, Offence::Undecodable, t);
        for p in 1..100 {
            b.penalise(p, Offence::Rejected, t);
            assert!(b.len() <= 4);
        }
        assert!(
            b.is_banned(&0),
            "a ban must not be evicted by unbanned churn"
        );
    }
}
