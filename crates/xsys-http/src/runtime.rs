//! The one tokio runtime of the process, shared by every listener.

use std::sync::OnceLock;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Worker threads: `XYPRISS_IO_THREADS` when set, else one per core but the one the JS thread
/// needs (measured on 2 cores: 1 I/O thread serves ~10% more than 2, which fight JS for a core).
fn worker_threads() -> usize {
    std::env::var("XYPRISS_IO_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
        })
}

pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("xypriss-io")
            // wakes the JS threads whose events this worker's round queued (bridge/deferred.rs)
            .on_thread_park(crate::bridge::worker_idle)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the xypriss I/O runtime: {e}"))
    })
}
