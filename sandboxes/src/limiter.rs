//! The per-store resource limiter: caps linear memory, records the peak, and remembers whether
//! the guest hit the cap (so a `MemoryError` or trap can be reported as the memory limit).

/// Enough table slots for CPython's function tables and then some; tables are host memory too.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 1 << 20;

pub struct GuestLimiter {
    memory_limit_bytes: usize,
    pub peak_memory_bytes: usize,
    pub memory_limit_hit: bool,
}

impl GuestLimiter {
    pub fn new(memory_limit_bytes: u64) -> Self {
        GuestLimiter {
            memory_limit_bytes: usize::try_from(memory_limit_bytes).unwrap_or(usize::MAX),
            peak_memory_bytes: 0,
            memory_limit_hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refusing (rather than trapping) makes `memory.grow` return -1, so the guest sees an
        // ordinary allocation failure: CPython raises MemoryError, which a program may handle.
        if desired > self.memory_limit_bytes {
            self.memory_limit_hit = true;
            return Ok(false);
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
