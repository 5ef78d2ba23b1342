//! The wasmtime engine settings shared by set-up (which compiles) and workers (which load), and
//! the epoch ticker that gives every run its wall-clock budget.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

/// How often the ticker advances the epoch: the granularity of time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Native stack a guest may use. CPython guards its C recursion (a deep `json.loads`, `repr`,
/// `==` of nested lists) by its *shadow* stack in linear memory, ~1 MB, and raises
/// `RecursionError` when that runs out; but each level also takes native stack, up to ~90 bytes
/// per shadow byte. With too little native stack the guest traps first, where no `except` can
/// catch it: measured, 1 MiB trapped at `json.loads("[" * 5000)`, 48 MiB on `==` of 300k-deep
/// lists; 96 MiB let CPython raise on every deep path we tried (json, repr, ==, eval, ast, re,
/// deepcopy). The stack is virtual memory: only the pages a run touches are committed, and
/// runs execute on a thread of [`RUN_THREAD_STACK_BYTES`] (see `Sandbox::run`).
pub const MAX_WASM_STACK_BYTES: usize = 128 << 20;

/// The stack of a thread that runs guests: the guest's budget plus room for the host's frames.
pub const RUN_THREAD_STACK_BYTES: usize = MAX_WASM_STACK_BYTES + (8 << 20);

/// The one engine configuration. Anything that changes generated code changes
/// [`codegen_key`], and so the name of the compiled-module cache entry.
pub fn new_engine() -> wasmtime::Result<Engine> {
    Engine::new(&base_config())
}

/// Component instances one process can hold at once: a worker runs one at a time; in-process
/// users (tests, `verifier exec`) a few. Beyond this, a run fails with an `error` outcome.
const POOLED_COMPONENT_INSTANCES: u32 = 16;

/// Guest memory kept mapped between runs, per linear memory. When a pooled slot is reused, the
/// pages the last run dirtied (found with Linux's `PAGEMAP_SCAN`) are copied back from the
/// snapshot instead of being unmapped, so the next fresh instance does not page-fault its way
/// through the interpreter's heap again. Measured on this project's 2-core machine: Python `pass`
/// 1.41 ms per run without the pool, 1.03 ms with it. (The scan gives up after 32 dirty regions
/// and unmaps the rest, so a run that dirties the heap all over still faults; copying all 15 MB
/// back instead, with the scan off, made HumanEval grading 14% faster but `pass` 1.66 ms.)
const KEEP_RESIDENT_BYTES: usize = 32 << 20;

/// The engine that runs programs: the compile settings of [`new_engine`] (so the cached
/// `.cwasm` files load) with the pooling instance allocator. Every run still gets a fresh
/// instance: a pooled slot's memory is reset to the snapshot before it is reused.
pub fn new_runtime_engine() -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOLED_COMPONENT_INSTANCES)
        .total_core_instances(POOLED_COMPONENT_INSTANCES * 16)
        .total_memories(POOLED_COMPONENT_INSTANCES * 4)
        .total_tables(POOLED_COMPONENT_INSTANCES * 8)
        .total_stacks(0)
        .table_elements(crate::limiter::MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(1 << 20)
        .pagemap_scan(Enabled::Auto);
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .wasm_component_model(true)
        .cranelift_opt_level(OptLevel::Speed)
        .max_wasm_stack(MAX_WASM_STACK_BYTES)
        // Never used (no async calls), but wasmtime checks it is above the stack budget.
        .async_stack_size(MAX_WASM_STACK_BYTES + (1 << 20))
        .parallel_compilation(true)
        // Every fresh CPython instance calls through most of its function table (type slots):
        // initialising it up front costs less than a lazy check per `call_indirect`. Measured
        // on HumanEval canonical ×10 through `verifier grade --jobs 2`: 120 → 140 samples/s.
        .table_lazy_init(false);
    config
}

/// Names the code-generation settings and wasmtime version, for cache file names.
pub fn codegen_key(engine: &Engine) -> String {
    struct Sha256Hasher(Sha256);
    impl Hasher for Sha256Hasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            unreachable!("only the full digest is read")
        }
    }
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.write(WASMTIME_VERSION.as_bytes());
    let digest = hasher.0.finalize();
    let short: String = digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("wasmtime{WASMTIME_VERSION}-{short}")
}

/// The pinned wasmtime version (see Cargo.toml); part of every compiled-module cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sandbox-epoch".into())
            .spawn(move || {
                // The epoch follows elapsed wall time, not the number of wake-ups: on a busy
                // machine sleeps overshoot, and counting them would stretch every time limit.
                let started = std::time::Instant::now();
                let mut ticks_done: u128 = 0;
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    let ticks_due = started.elapsed().as_micros() / EPOCH_TICK.as_micros();
                    while ticks_done < ticks_due {
                        engine.increment_epoch();
                        ticks_done += 1;
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
