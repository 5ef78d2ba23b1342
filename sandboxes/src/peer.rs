//! The peer of a run (see [`PeerRequest`]): a second fresh Python instance that the main
//! instance calls through the host.
//!
//! Why two instances: a program that must not see what another program knows (a test's expected
//! values, say) cannot share an interpreter with it, since within one interpreter frames, the
//! garbage collector and module state reach everything. Here the two share only the strings the
//! host passes between them, and the host calls the peer's `serve` export on the same thread,
//! from inside the main instance's `call-peer` import: the main instance is suspended in that
//! call, so the two never run at once and each budget is charged only while its instance runs.

use std::time::{Duration, Instant};

use wasmtime::Store;

use crate::budget::Budget;
use crate::limiter::GuestLimiter;
use crate::request::{Outcome, PeerRequest, RunResult};
use crate::sandbox::{
    budgeted_store, isolated_wasi, outcome_of_error, python_verdict, with_memory_limit,
    OutputPipes, PythonState, Sandbox, Verdict,
};

pub(crate) struct Peer {
    store: Store<PythonState>,
    instance: crate::sandbox::bindings::Sandbox,
    output: OutputPipes,
    request: PeerRequest,
    /// How the peer ended, once it can no longer answer.
    ended: Option<Outcome>,
    /// CPU time of this thread spent in the peer.
    cpu: Duration,
}

impl Peer {
    /// Instantiates the peer and runs its program (which registers its handler). A peer whose
    /// program fails is still returned: every call to it then fails with the reason. `Err` is a
    /// failure of the sandbox itself.
    pub(crate) fn start(
        sandbox: &Sandbox,
        request: &PeerRequest,
        wall_deadline: Option<Instant>,
    ) -> Result<Peer, String> {
        let output = OutputPipes::new(&request.limits);
        let wasi = isolated_wasi(&request.stdin, &output, None).build();
        let budget = Budget::paused(Duration::from_millis(request.limits.time_limit_ms))
            .ending_by(wall_deadline);
        let state = PythonState::new(wasi, &request.limits, budget);
        let mut store = budgeted_store(&sandbox.engine, state, None, |state| &mut state.limiter);
        let instance = sandbox
            .python
            .instantiate(&mut store)
            .map_err(|error| format!("instantiating the peer: {error:#}"))?;
        let mut peer = Peer {
            store,
            instance,
            output,
            request: request.clone(),
            ended: None,
            cpu: Duration::ZERO,
        };
        let program = peer.request.program.clone();
        let ended = peer.running(|instance, store| instance.call_run(store, &program, None));
        let outcome = with_memory_limit(python_verdict(ended).outcome, &peer.store.data().limiter);
        if outcome != Outcome::Finished {
            peer.ended = Some(outcome);
        }
        Ok(peer)
    }

    /// Runs `work` on the peer with its clock running.
    fn running<R>(
        &mut self,
        work: impl FnOnce(&crate::sandbox::bindings::Sandbox, &mut Store<PythonState>) -> R,
    ) -> R {
        let cpu_started = crate::sandbox::thread_cpu_time();
        self.store.data_mut().budget.resume();
        let result = work(&self.instance, &mut self.store);
        self.store.data_mut().budget.pause();
        self.cpu += crate::sandbox::thread_cpu_time().saturating_sub(cpu_started);
        result
    }

    /// Hands `message` to the peer's handler; the error says why there is no answer (the texts
    /// are those of `call-peer` in the WIT world).
    pub(crate) fn call(&mut self, message: &str) -> Result<String, String> {
        if let Some(outcome) = &self.ended {
            return Err(failure_text(outcome));
        }
        let answer = self.running(|instance, store| instance.call_serve(store, message));
        match answer {
            Ok(Ok(answer)) if answer.len() > self.request.limits.stdout_limit_bytes => {
                Err("too-long".into())
            }
            Ok(answer) => answer,
            Err(error) => {
                // A trap or interrupt leaves the instance unusable: it has ended.
                let outcome =
                    with_memory_limit(outcome_of_error(&error), &self.store.data().limiter);
                let text = failure_text(&outcome);
                self.ended = Some(outcome);
                Err(text)
            }
        }
    }

    pub(crate) fn into_result(mut self) -> RunResult {
        let state = self.store.data_mut();
        let limiter = std::mem::replace(&mut state.limiter, GuestLimiter::new(0));
        let charged = state.budget.spent();
        let verdict = Verdict {
            outcome: self.ended.unwrap_or(Outcome::Finished),
            part: None,
        };
        self.output
            .into_result(verdict, &limiter, charged, self.cpu)
    }
}

/// Why a peer that ended cannot answer, as `call-peer` reports it.
pub(crate) fn failure_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::TimeLimit => "time-limit".into(),
        Outcome::MemoryLimit => "memory-limit".into(),
        Outcome::Exception { type_name } => format!("raised: {type_name}"),
        Outcome::Exited { code } | Outcome::SystemExit { code } => format!("exited: {code}"),
        Outcome::Trap { message } => format!("trap: {message}"),
        Outcome::ScratchLimit | Outcome::Finished => "ended".into(),
        Outcome::Error { message } => format!("error: {message}"),
    }
}
