//! `sandboxes`: runs untrusted Python and JavaScript in wasmtime with limits the program cannot
//! escape. Knows nothing of grading. (The runtime lands with the sandboxes issue.)
