//! The time budget of one instance: the time it has spent *running*, against its limit.
//!
//! A run with a peer has two instances that take turns (see [`crate::peer`]): while one waits for
//! the other, its clock is paused, so each is charged only for its own work. The epoch callback
//! of every store asks its budget whether it is spent (the engine's epoch ticks every
//! [`EPOCH_TICK`](crate::engine::EPOCH_TICK)), and blocking host calls (a guest's `sleep`) are
//! cut to what is left, so they cannot outlast the limit either.

use std::time::{Duration, Instant};

pub struct Budget {
    limit: Duration,
    /// When the whole run must end, whoever is running (see `RunRequest::wall_limit_ms`).
    wall_deadline: Option<Instant>,
    /// Time charged in earlier stretches of running.
    spent: Duration,
    /// When the current stretch began; `None` while paused.
    running_since: Option<Instant>,
}

impl Budget {
    /// A budget whose clock starts now.
    pub fn started(limit: Duration) -> Budget {
        Budget {
            limit,
            wall_deadline: None,
            spent: Duration::ZERO,
            running_since: Some(Instant::now()),
        }
    }

    /// The same budget, also spent when the run's wall clock reaches `deadline`.
    pub fn ending_by(self, deadline: Option<Instant>) -> Budget {
        Budget {
            wall_deadline: deadline,
            ..self
        }
    }

    /// A budget whose clock starts at the first [`resume`](Budget::resume).
    pub fn paused(limit: Duration) -> Budget {
        Budget {
            running_since: None,
            ..Budget::started(limit)
        }
    }

    pub fn spent(&self) -> Duration {
        self.spent
            + self
                .running_since
                .map_or(Duration::ZERO, |since| since.elapsed())
    }

    pub fn left(&self) -> Duration {
        let own = self.limit.saturating_sub(self.spent());
        match self.wall_deadline {
            Some(deadline) => own.min(deadline.saturating_duration_since(Instant::now())),
            None => own,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.left().is_zero()
    }

    pub fn pause(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.spent += since.elapsed();
        }
    }

    pub fn resume(&mut self) {
        self.running_since.get_or_insert_with(Instant::now);
    }
}

/// Store data that carries a [`Budget`] (both runtimes' states).
pub trait HasBudget {
    fn budget(&self) -> &Budget;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_budget_is_not_charged() {
        let mut budget = Budget::paused(Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!budget.exhausted());
        budget.resume();
        std::thread::sleep(Duration::from_millis(10));
        budget.pause();
        let spent = budget.spent();
        assert!(spent >= Duration::from_millis(10) && spent < Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(budget.spent(), spent);
        budget.resume();
        std::thread::sleep(Duration::from_millis(25));
        assert!(budget.exhausted());
        assert_eq!(budget.left(), Duration::ZERO);
    }

    #[test]
    fn the_runs_wall_deadline_ends_a_paused_budget_too() {
        let deadline = Instant::now() + Duration::from_millis(20);
        let budget = Budget::paused(Duration::from_secs(10)).ending_by(Some(deadline));
        assert!(!budget.exhausted());
        std::thread::sleep(Duration::from_millis(25));
        assert!(budget.exhausted());
    }
}
