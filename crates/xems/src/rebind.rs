//! The recovery path: re-binding a closed store to this machine and/or a new secret with the
//! recovery key created with it. Only the header's wraps change; records are untouched.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use crate::crypto::{self, RecoveryKey};
use crate::files::{self, lock_file, same_file};
use crate::header::{self, Header, FLAG_RECOVERY, HEADER_LEN};
use crate::options::Options;
use crate::registry::{canonical, lock_registry_for};
use crate::wipe::wipe_whole_file;
use crate::{Error, Store};

impl Store {
    /// Re-binds a closed store to this machine and/or a new secret, using the recovery key
    /// returned at creation. Records are untouched (their key derives from the data key,
    /// which does not change); only the header's wraps are rewritten (temp file + rename).
    pub fn rebind(
        path: impl AsRef<Path>,
        recovery: &RecoveryKey,
        options: Options,
    ) -> Result<(), Error> {
        options.validate()?;
        let canon = canonical(path.as_ref())?;
        let reg = lock_registry_for(&canon);
        if reg
            .get(&canon)
            .and_then(|e| e.shared.upgrade())
            .is_some_and(|sh| !sh.is_closed())
        {
            return Err(Error::invalid(
                "the store is open in this process; close it before rebinding",
            ));
        }
        let hw = options.hardware()?;
        files::check_store_dir(&canon)?;
        let file = files::open_store_file(&canon)
            .map_err(|e| Error::io(format!("cannot open {}", canon.display()), e))?;
        lock_file(&file, &canon)?;
        if !same_file(&file, &canon)? {
            return Err(Error::locked(
                "the store file is being replaced by another process",
            ));
        }
        files::check_store_file(&file, &canon)?;
        let mut bytes = Vec::new();
        (&file)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", e))?;
        let old = Header::parse(&bytes)?;
        if old.flags & FLAG_RECOVERY == 0 {
            return Err(Error::invalid(
                "this store was created without a recovery key",
            ));
        }
        let rwk = header::recovery_wrap_key(&recovery.0, &old.salt, &old.file_id);
        let master = crypto::unwrap(&old.recovery_wrap, &rwk, &old.identity())
            .ok_or_else(|| Error::key("the recovery key does not open this store"))?;
        let mac = header::header_mac_key(&master, &old.file_id);
        Header::verify_mac(&bytes, &mac)?;

        let mut h = old.clone();
        crypto::random(&mut h.salt)?;
        h.flags = options.flags(hw.is_some(), true);
        h.iterations = options.passphrase_iterations.unwrap_or(0);
        let wk = header::wrap_key(
            &options.secret,
            h.passphrase_iterations(),
            &h.salt,
            &h.file_id,
            hw.as_ref(),
        );
        h.hw_wrap = crypto::wrap(&master, &wk, &h.identity())?;
        let rwk = header::recovery_wrap_key(&recovery.0, &h.salt, &h.file_id);
        h.recovery_wrap = crypto::wrap(&master, &rwk, &h.identity())?;
        let mut out = h.encode(&mac).to_vec();
        out.extend_from_slice(&bytes[HEADER_LEN..]);
        let fsyncs = AtomicU64::new(0);
        let mode = files::mode_of(&file);
        let (new_file, dir_err) = files::replace_file(&canon, "rebind", &out, mode, &fsyncs)?;
        // The old inode still holds the old wraps: overwrite it (best effort) before letting go.
        let _ = wipe_whole_file(&file, &fsyncs);
        drop(file);
        drop(new_file);
        drop(reg);
        dir_err.map_or(Ok(()), Err)
    }
}
