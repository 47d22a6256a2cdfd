//! One store per canonical path per process: a second `open` of the same file shares the first
//! one (worker threads included), and an open right after a close waits for the file to be
//! released instead of finding it locked by our own closing writer.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{LazyLock, Mutex, MutexGuard, Weak};

use crate::open::StoreInner;
use crate::shared::{lock, Shared};
use crate::Error;

pub(crate) struct RegistryEntry {
    pub store: Weak<StoreInner>,
    /// Outlives `store` until the writer has released the file, so a re-open can wait for it.
    pub shared: Weak<Shared>,
}

pub(crate) type Registry = HashMap<PathBuf, RegistryEntry>;

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Canonical path even for a file that does not exist yet (canonical parent + file name).
pub(crate) fn canonical(path: &Path) -> Result<PathBuf, Error> {
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} is not a file path", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(parent)
        .map_err(|e| Error::io(format!("cannot resolve directory {}", parent.display()), e))?;
    Ok(dir.join(name))
}

/// Locks the registry once no store of `canon` is still shutting down, so that an open right
/// after `close()` (or after dropping the last handle) does not find the file still locked by
/// our own writer. Waits without holding the registry lock: a closing writer may be running
/// completion callbacks that themselves open stores.
pub(crate) fn lock_registry_for(canon: &Path) -> MutexGuard<'static, Registry> {
    loop {
        let reg = lock(&REGISTRY);
        let closing = reg.get(canon).and_then(|e| {
            let shared = e.shared.upgrade()?;
            let handles_gone = e.store.strong_count() == 0;
            let shutting_down = handles_gone || shared.closing.load(Ordering::SeqCst);
            (shutting_down && !shared.is_closed()).then_some(shared)
        });
        match closing {
            None => return reg,
            Some(shared) => {
                drop(reg);
                shared.wait_closed();
            }
        }
    }
}
