//! The JavaScript runtime: QuickJS-NG, a WASI preview-1 command module, run once per instance
//! from `_start` to its end (a run's main program, or one call of a run's peer).
//!
//! WASI is wasmtime's, with our own `poll_oneoff` in front of it (waits end at the time limit,
//! see [`crate::waits`]). An instance with a peer channel (see [`crate::js_peer`]) is linked
//! with our own `fd_read` and `fd_write` too: they answer the channel's descriptor, standard
//! input from memory and the two capped outputs, and nothing else (wasmtime's own functions
//! cannot be called from ours: they need the calling instance's memory), so such an instance
//! has no scratch directory.

use std::path::Path;
use std::sync::Arc;

use wasmtime::{Caller, Engine, InstancePre, Linker};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::budget::{Budget, HasBudget};
use crate::guest_io::{
    gather, guest_memory, scatter, store_count, ERRNO_BADF, ERRNO_FAULT, ERRNO_PIPE,
};
use crate::js_peer::{Channel, PEER_FD};
use crate::limiter::GuestLimiter;
use crate::output::CappedOutput;
use crate::request::Outcome;
use crate::sandbox::{budgeted_store, isolated_wasi, outcome_of_error, OutputPipes};
use crate::scratch::ScratchDir;

/// Store data of one QuickJS instance.
pub(crate) struct JavascriptState {
    wasi: WasiP1Ctx,
    pub(crate) limiter: GuestLimiter,
    pub(crate) budget: Budget,
    /// The host's end of the peer channel, in a run that has a peer; such an instance's
    /// standard streams are these, answered by [`standard_read`] and [`standard_write`].
    pub(crate) channel: Option<Channel>,
    stdin: Vec<u8>,
    stdin_read: usize,
    stdout: CappedOutput,
    stderr: CappedOutput,
}

impl HasBudget for JavascriptState {
    fn budget(&self) -> &Budget {
        &self.budget
    }
}

/// What one instance runs with.
pub(crate) struct Launch<'a> {
    pub program: &'a str,
    pub stdin: &'a str,
    pub output: &'a OutputPipes,
    pub scratch: Option<Arc<ScratchDir>>,
    pub memory_limit_bytes: u64,
    pub budget: Budget,
    pub channel: Option<Channel>,
}

/// QuickJS, compiled and linked: cheap to clone (a peer holds one to start its instances).
#[derive(Clone)]
pub(crate) struct JavascriptRuntime {
    engine: Engine,
    /// Linked with WASI's own file functions.
    plain: InstancePre<JavascriptState>,
    /// Linked with ours, for instances with a peer channel.
    channelled: InstancePre<JavascriptState>,
}

impl JavascriptRuntime {
    pub(crate) fn load(engine: &Engine, cwasm: &Path) -> wasmtime::Result<JavascriptRuntime> {
        // SAFETY: the file is our own cache entry, written by `setup` for this engine's
        // settings; wasmtime still checks the version and settings recorded inside it.
        let module = unsafe { wasmtime::Module::deserialize_file(engine, cwasm) }?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, wasi_of)?;
        linker.allow_shadowing(true);
        linker.func_wrap(
            "wasi_snapshot_preview1",
            "poll_oneoff",
            crate::waits::poll_oneoff::<JavascriptState>,
        )?;
        let plain = linker.instantiate_pre(&module)?;
        linker.func_wrap("wasi_snapshot_preview1", "fd_write", standard_write)?;
        linker.func_wrap("wasi_snapshot_preview1", "fd_read", standard_read)?;
        Ok(JavascriptRuntime {
            engine: engine.clone(),
            plain,
            channelled: linker.instantiate_pre(&module)?,
        })
    }

    /// Runs one fresh instance to its end. Returns how it ended (limits not yet considered)
    /// and its state, which holds the budget, the memory peak and the channel.
    pub(crate) fn run(&self, launch: Launch<'_>) -> (Outcome, JavascriptState) {
        let stderr_before = launch.output.stderr_len();
        let pre = match launch.channel {
            Some(_) if launch.scratch.is_some() => {
                let message = "a JavaScript run with a peer has no scratch directory".to_string();
                let state = self.state(launch, WasiCtxBuilder::new().build_p1());
                return (Outcome::Error { message }, state);
            }
            Some(_) => &self.channelled,
            None => &self.plain,
        };
        let mut builder = isolated_wasi(launch.stdin, launch.output, launch.scratch.as_deref());
        // `--std` exposes QuickJS's `std` and `os` objects (e.g. `std.in.readAsString()` for
        // stdin); with no preopens and no sockets they reach nothing outside the instance.
        builder.args(&["qjs", "--std", "-e", launch.program]);
        let scratch = launch.scratch.clone();
        let output = launch.output;
        let state = self.state(launch, builder.build_p1());
        let mut store = budgeted_store(&self.engine, state, scratch, |state| &mut state.limiter);
        let ended = pre.instantiate(&mut store).and_then(|instance| {
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call(&mut store, ())
        });
        let outcome = match ended {
            Ok(()) => Outcome::Finished,
            Err(error) => match error.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Outcome::Exited { code: 0 },
                Some(I32Exit(code)) => {
                    let stderr = output.stderr_since(stderr_before);
                    match javascript_exception_type(&stderr) {
                        Some(type_name) if *code == 1 => Outcome::Exception { type_name },
                        _ => Outcome::Exited { code: *code },
                    }
                }
                None => outcome_of_error(&error),
            },
        };
        (outcome, store.into_data())
    }

    fn state(&self, launch: Launch<'_>, wasi: WasiP1Ctx) -> JavascriptState {
        let (stdout, stderr) = launch.output.pipes();
        JavascriptState {
            wasi,
            limiter: GuestLimiter::new(launch.memory_limit_bytes),
            budget: launch.budget,
            channel: launch.channel,
            stdin: launch.stdin.as_bytes().to_vec(),
            stdin_read: 0,
            stdout,
            stderr,
        }
    }
}

fn wasi_of(state: &mut JavascriptState) -> &mut WasiP1Ctx {
    &mut state.wasi
}

const STDIN: i32 = 0;
const STDOUT: i32 = 1;
const STDERR: i32 = 2;

/// `fd_write` of an instance with a peer channel: the channel, or a capped output (past its
/// cap, a write to stdout fails and one to stderr is dropped; see `output.rs`).
fn standard_write(
    mut caller: Caller<'_, JavascriptState>,
    fd: i32,
    list: i32,
    count: i32,
    written: i32,
) -> i32 {
    if fd == PEER_FD {
        return crate::js_peer::write(&mut caller, list, count, written);
    }
    if fd != STDOUT && fd != STDERR {
        return ERRNO_BADF;
    }
    let Some(memory) = guest_memory(&mut caller) else {
        return ERRNO_FAULT;
    };
    let (data, state) = memory.data_and_store_mut(&mut caller);
    let bytes = match gather(data, list, count) {
        Ok(bytes) => bytes,
        Err(errno) => return errno,
    };
    let pipe = if fd == STDOUT {
        &mut state.stdout
    } else {
        &mut state.stderr
    };
    match pipe.keep(&bytes) {
        Ok(counted) => store_count(data, written, counted),
        Err(_) if bytes.is_empty() => store_count(data, written, 0),
        Err(_) => ERRNO_PIPE,
    }
}

/// `fd_read` of an instance with a peer channel: the channel, or standard input.
fn standard_read(
    mut caller: Caller<'_, JavascriptState>,
    fd: i32,
    list: i32,
    count: i32,
    done: i32,
) -> i32 {
    if fd == PEER_FD {
        return crate::js_peer::read(&mut caller, list, count, done);
    }
    if fd != STDIN {
        return ERRNO_BADF;
    }
    let Some(memory) = guest_memory(&mut caller) else {
        return ERRNO_FAULT;
    };
    let (data, state) = memory.data_and_store_mut(&mut caller);
    match scatter(data, list, count, &state.stdin[state.stdin_read..]) {
        Ok((copied, _)) => {
            state.stdin_read += copied;
            store_count(data, done, copied)
        }
        Err(errno) => errno,
    }
}

/// QuickJS prints an uncaught exception on stderr as a line `TypeError: ...` (some builds
/// prefix `Uncaught `) and its stack below it, the last thing the program writes. Returns the
/// error type's name from the last line that names one; a thrown value that is not an error
/// (`throw 42`) is reported as `Error` where the prefix shows it was thrown. The last, not the
/// first: a program's own debug lines come before (red team: a debug line on stderr hid the
/// real exception, and a printed `SyntaxError: ...` labelled a run a syntax error).
fn javascript_exception_type(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines().rev().find_map(exception_named_by)
}

/// The exception type a line of stderr names, if it is an uncaught exception's line.
fn exception_named_by(line: &str) -> Option<String> {
    let line = line.trim();
    let (uncaught, rest) = match line.strip_prefix("Uncaught ") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    let after_name = &rest[name.len()..];
    let names_an_error = name.starts_with(|c: char| c.is_ascii_uppercase())
        && (name.ends_with("Error") || name.ends_with("Exception"))
        && (after_name.is_empty() || after_name.starts_with(':'));
    if names_an_error {
        Some(name)
    } else if uncaught && !rest.is_empty() {
        Some("Error".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::javascript_exception_type;

    #[test]
    fn javascript_exception_names_are_read_from_stderr() {
        assert_eq!(
            javascript_exception_type(b"Uncaught TypeError: x is not a function\n    at <eval>\n"),
            Some("TypeError".to_string())
        );
        assert_eq!(
            javascript_exception_type(b"Uncaught 42\n"),
            Some("Error".to_string())
        );
        assert_eq!(
            javascript_exception_type(b"RangeError: bad\n"),
            Some("RangeError".to_string())
        );
        assert_eq!(javascript_exception_type(b"hello\n"), None);
        assert_eq!(javascript_exception_type(b"Note: fine\n"), None);
        // The last exception line is the program's end; debug lines come before it.
        assert_eq!(
            javascript_exception_type(b"SyntaxError: debug\nstep 2\nTypeError: real\n    at f\n"),
            Some("TypeError".to_string())
        );
    }
}
